#!/usr/bin/env bash
# Prints the path of a Python interpreter with scripts/requirements.txt installed, in a virtualenv under .local/
# (created or updated when the requirements change).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.local/venv-tools
stamp="$venv/requirements.sha256"
wanted=$(sha256sum scripts/requirements.txt | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  command -v python3 >/dev/null || apt-get install -y -qq python3 >/dev/null
  python3 -c "import venv, ensurepip" 2>/dev/null || apt-get install -y -qq python3-venv >/dev/null
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet -r scripts/requirements.txt >&2
  echo "$wanted" > "$stamp"
fi
echo "$PWD/$venv/bin/python"
