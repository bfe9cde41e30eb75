#!/usr/bin/env bash
# Runs the web UI's tests: the trace-model unit tests in Node, then the browser tests
# against the real Zipwire binary in Debian's headless Chromium (no browser download).
#
#   ZIPWIRE_BIN    binary under test (default: $CARGO_TARGET_DIR/release/zipwire, else
#                  target/release/zipwire; built with `cargo build --release` if missing)
#   CHROMIUM_PATH  browser (default /usr/bin/chromium)
#   ZIPWIRE_TESTDATA  folder of Zipkin's Lens test traces (default ../shared/testdata/zipkin-lens)
# Screenshots land in target/ui-screenshots/.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$here"

if ! command -v node >/dev/null 2>&1; then
  echo "node is required for the UI tests (apt-get install -y nodejs npm)" >&2
  exit 1
fi

chromium="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ ! -x "$chromium" ] && [ -n "${CI:-}" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  # A fresh CI machine: Debian's package is the only browser these tests use.
  echo "installing Debian's chromium for the UI tests" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if [ ! -x "$chromium" ]; then
  echo "Chromium not found at $chromium: apt-get update && apt-get install -y chromium" >&2
  exit 1
fi
export CHROMIUM_PATH="$chromium"

if [ ! -d node_modules/playwright-core ]; then
  # playwright-core never downloads a browser; the variable only silences its hint.
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
fi

target="${CARGO_TARGET_DIR:-$repo/target}"
export ZIPWIRE_BIN="${ZIPWIRE_BIN:-$target/release/zipwire}"
if [ ! -x "$ZIPWIRE_BIN" ]; then
  echo "building $ZIPWIRE_BIN" >&2
  (cd "$repo" && cargo build --release --bin zipwire)
fi

mkdir -p "$repo/target/ui-screenshots"
node --test --test-concurrency=1 model.test.mjs ui.test.mjs
