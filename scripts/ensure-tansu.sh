#!/usr/bin/env bash
# Makes sure the tansu broker (an Apache-licensed, Kafka-compatible broker from crates.io)
# is installed outside the clone, for the Kafka integration tests and bench: builds it
# once with its own target directory (about 20 minutes on 2 cores) and skips the build
# when the binary is already there. Prints the binary's path (alone) on stdout.
set -euo pipefail

version="${TANSU_VERSION:-0.6.0}"
root="${ZIPWIRE_TOOLS:-$HOME/.cache/zipwire-tools}"
bin="$root/bin/tansu"
stamp="$root/tansu.version"

if [ -x "$bin" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then
  echo "tansu $version is installed" >&2
  echo "$bin"
  exit 0
fi

echo "building tansu $version with --features dynostore (first run only)" >&2
mkdir -p "$root"
# Its own target directory, never the project's, and a low priority so a shared machine
# stays usable. `dynostore` provides the memory:// storage engine the tests use.
CARGO_TARGET_DIR="$root/build" nice -n 10 \
  cargo install tansu --version "$version" --locked --features dynostore --root "$root" >&2
echo "$version" > "$stamp"
# The intermediate build is several GB; the binary is all the tests need.
rm -rf "$root/build"
echo "$bin"
