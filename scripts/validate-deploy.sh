#!/usr/bin/env bash
# Validates deploy/ (see scripts/deploy/validate.py) in a virtualenv under .local/ with its checkers from PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.local/venv-deploy
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import kubernetes_validate, jsonschema, yaml" 2>/dev/null; then
  command -v python3 >/dev/null || apt-get install -y python3
  python3 -c "import venv, ensurepip" 2>/dev/null || apt-get install -y python3-venv
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "kubernetes-validate==1.37.0" "jsonschema>=4,<5" "pyyaml>=6,<7"
fi
"$venv/bin/python" scripts/deploy/validate.py
