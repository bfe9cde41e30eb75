#!/usr/bin/env bash
# The README's test command (run by .ci/run after fmt and clippy): Rust unit, HTTP,
# storage-conformance (memory and PostgreSQL), Kafka and shutdown tests; then the
# browser suite, the real-client interop suite and a short fuzz smoke run.
# PostgreSQL must answer on 127.0.0.1:5432 (scripts/ensure-postgres.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/zipwire-target}"

cargo test --locked --all-targets

# `cargo test` builds the debug binary for the integration tests; the suites below drive
# that same binary, which keeps CI from paying for a second (release) build.
export ZIPWIRE_BIN="${ZIPWIRE_BIN:-$CARGO_TARGET_DIR/debug/zipwire}"
bash tests/ui/run.sh
bash tests/interop/run.sh
bash fuzz/smoke.sh
