#!/usr/bin/env bash
# Interop with real client libraries: starts the Zipwire binary given by ZIPWIRE_BIN on a
# free port with in-memory storage, drives OpenTelemetry's Zipkin exporters, py_zipkin
# (every encoding) and a gRPC client against it, and reads every trace back for a
# field-by-field comparison (clients.py). Prints "N passed, N failed"; exits non-zero on
# any failure.
#
# The clients come from PyPI into a virtualenv cached outside the repository
# (ZIPWIRE_VENV, default ~/.cache/zipwire-venv), refreshed when requirements.txt changes.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

bin="${ZIPWIRE_BIN:?set ZIPWIRE_BIN to the zipwire binary to test}"
venv="${ZIPWIRE_VENV:-$HOME/.cache/zipwire-venv}"

stamp="$venv/.requirements.sha256"
want="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
  echo "$want" >"$stamp"
fi

port="$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
log="$(mktemp)"
QUERY_PORT="$port" STORAGE_TYPE=mem "$bin" >"$log" 2>&1 &
pid=$!
cleanup() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -f "$log"
}
trap cleanup EXIT

for _ in $(seq 1 100); do
  if "$venv/bin/python" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/health', timeout=1)" 2>/dev/null; then
    break
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "zipwire exited early:"; cat "$log"; echo "0 passed, 1 failed"; exit 1
  fi
  sleep 0.1
done

status=0
out="$(mktemp)"
ZIPWIRE_URL="http://127.0.0.1:$port" "$venv/bin/python" "$here/clients.py" | tee "$out" || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- zipwire log ---"; tail -n 50 "$log"
  # Keep the summary as the closing line.
  tail -n 1 "$out"
fi
rm -f "$out"
exit "$status"
