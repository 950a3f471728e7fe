#!/usr/bin/env bash
# Validates deploy/ (see scripts/deploy/validate.py) with its checkers from PyPI (scripts/venv.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
"$(scripts/venv.sh)" scripts/deploy/validate.py
