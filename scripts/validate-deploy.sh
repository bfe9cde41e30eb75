#!/usr/bin/env bash
# Validates the deployment files without a Docker engine or a cluster:
#  1. required keys and cross-references (scripts/check_deploy.py, PyYAML);
#  2. Kubernetes manifests against the Kubernetes JSON schemas (kubernetes-validate,
#     which ships the schemas) and the rendered kustomization (kubectl kustomize, when
#     kubectl is installed);
#  3. docker-compose.yml against the Compose specification's schema (check-jsonschema's
#     bundled copy).
# The validators are installed from PyPI into a cached virtualenv on first use.
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${ZIPWIRE_TOOLS_VENV:-$HOME/.cache/zipwire-tools-venv}"
if [ ! -x "$venv/bin/kubernetes-validate" ] || [ ! -x "$venv/bin/check-jsonschema" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "kubernetes-validate==1.37.0" "check-jsonschema==0.39.0" "PyYAML>=6"
fi

"$venv/bin/python" scripts/check_deploy.py

manifests=()
for f in deploy/kubernetes/*.yaml; do
  [ "$(basename "$f")" = kustomization.yaml ] || manifests+=("$f")
done
"$venv/bin/kubernetes-validate" --strict "${manifests[@]}"

if command -v kubectl >/dev/null 2>&1; then
  rendered=$(mktemp)
  trap 'rm -f "$rendered"' EXIT
  kubectl kustomize deploy/kubernetes > "$rendered"
  "$venv/bin/kubernetes-validate" --strict "$rendered"
fi

"$venv/bin/check-jsonschema" --builtin-schema vendor.compose-spec docker-compose.yml
echo "deployment files are valid"
