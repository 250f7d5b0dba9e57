#!/usr/bin/env bash
# Lint, type-check and run the default test suite (what CI runs).
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check eureka_kit envs examples tests bench
.venv/bin/ruff format --check eureka_kit envs examples tests bench
.venv/bin/mypy eureka_kit
.venv/bin/python -m pytest -q "$@"
