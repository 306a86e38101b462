#!/usr/bin/env bash
# The test command: set up (unless SKIP_SETUP=1), then lint, type-check, check import layers, run pytest
# (printing the coverage of registry/ and runner/: [tool.coverage.*] in pyproject.toml; `--no-cov` turns it off).
# Extra arguments go to pytest, e.g. `bash scripts/test.sh tests/store/library -x`.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${SKIP_SETUP:-0}" = 1 ] || bash scripts/setup.sh
ruff check registry runner migrations tests bench
ruff format --check registry runner migrations tests bench
mypy
lint-imports
python3 -m pytest -q -ra --cov --cov-report=term "$@"
