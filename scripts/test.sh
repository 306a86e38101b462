#!/usr/bin/env bash
# The test command: set up for development (unless SKIP_SETUP=1: `scripts/setup.sh --dev`), then lint,
# type-check, check import layers, run pytest (printing the coverage of registry/ and runner/:
# [tool.coverage.*] in pyproject.toml; `--no-cov` turns it off) in the virtual environment that
# setup.sh made (the active one, else .venv; none: the Python on PATH).
# Extra arguments go to pytest, e.g. `bash scripts/test.sh tests/store/library -x`.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${SKIP_SETUP:-0}" = 1 ] || bash scripts/setup.sh --dev
# Activated, not just called: the tests start `ollama-py` and `python` subprocesses found on PATH.
if [ -z "${VIRTUAL_ENV:-}" ] && [ -f .venv/bin/activate ]; then
  # shellcheck disable=SC1091
  . .venv/bin/activate
fi
ruff check registry runner migrations tests bench
ruff format --check registry runner migrations tests bench
mypy
lint-imports
python -m pytest -q -ra --cov --cov-report=term "$@"
