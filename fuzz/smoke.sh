#!/usr/bin/env bash
# Runs every fuzz target for a short, fixed number of inputs (CI), so the harness cannot
# rot. Deep fuzzing is the same command with more runs, or none (see README.md).
#
# Uses the stable toolchain: cargo-fuzz needs nightly-only -Z flags (sanitizer, coverage
# instrumentation), which RUSTC_BOOTSTRAP=1 unlocks on stable.
set -euo pipefail
cd "$(dirname "$0")"

RUNS="${FUZZ_RUNS:-20000}"
export RUSTC_BOOTSTRAP=1
# A target dir of its own: the instrumented flags would otherwise invalidate the main cache.
TARGET_DIR="${FUZZ_TARGET_DIR:-$HOME/.cache/zipwire-fuzz-target}"
unset CARGO_TARGET_DIR

if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi

targets=(json_v2 json_v1 proto3 thrift detect)
# No AddressSanitizer: the crate forbids `unsafe`, and the C libraries it links (librdkafka
# via rdkafka-sys, zstd) do not link when compiled with -Zsanitizer=address. Coverage
# guidance and panic detection, which find decoder bugs, stay on.
SANITIZER="${FUZZ_SANITIZER:-none}"
# One build for every target (the library is the slow part).
cargo fuzz build --sanitizer "$SANITIZER" --target-dir "$TARGET_DIR"

passed=0
failed=0
for t in "${targets[@]}"; do
  corpus="$(mktemp -d)"
  # New inputs go to the throw-away first directory; the committed seeds stay as they are.
  if cargo fuzz run --sanitizer "$SANITIZER" --target-dir "$TARGET_DIR" "$t" "$corpus" "seeds/$t" -- \
      -runs="$RUNS" -max_len=65536 -timeout=10 -rss_limit_mb=2048 >"$corpus.log" 2>&1; then
    echo "fuzz $t: ok ($(grep -Eo 'Done [0-9]+ runs' "$corpus.log" || echo "$RUNS runs"))"
    passed=$((passed + 1))
  else
    echo "fuzz $t: FAILED"
    tail -n 40 "$corpus.log"
    failed=$((failed + 1))
  fi
  rm -rf "$corpus" "$corpus.log"
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
