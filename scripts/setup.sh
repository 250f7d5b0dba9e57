#!/usr/bin/env bash
# Set up eureka-kit: Debian packages (scripts/setup_system.sh, as root) and Python packages in ./.venv
# (torch from the local CPU build through constraints.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_system.sh
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
# constraints.txt pins torch==2.13.0: pip takes the CPU build that lies on disk instead of a multi-GB CUDA build.
# .[ray]: the Ray executor's tests run in CI (a local Ray instance with 2 CPUs).
.venv/bin/python -m pip install --quiet -c constraints.txt -e '.[dev,ray]'
echo "eureka-kit installed in .venv ($(.venv/bin/python -c 'import torch; print("torch", torch.__version__)'))"
