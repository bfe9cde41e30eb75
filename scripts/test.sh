#!/usr/bin/env bash
# The test command of the README: Rust unit and integration tests (memory and PostgreSQL
# backends), then the browser and client-interop suites against a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/zipwire-target}"

cargo test --locked --all-targets
