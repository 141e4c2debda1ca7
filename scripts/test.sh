#!/usr/bin/env bash
# The whole suite, on SQLite and on PostgreSQL + Redis (started here when they are not running).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV_PYTHON=${VENV_PYTHON:-.venv/bin/python}
source scripts/services.sh
services_up
trap services_down EXIT
"$VENV_PYTHON" -m pytest "$@"
