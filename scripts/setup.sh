#!/usr/bin/env bash
# Idempotent set-up: a .venv in the repo root with torch, reglab (editable) and the dev tools.
# Re-running is a no-op until pyproject.toml or this script changes.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
# torch/torchvision are pinned here, not in pyproject: this pair is the one the local wheel
# mirror carries (a CUDA build that also runs on CPU); elsewhere pip takes the newest.
TORCH_PINS=${TORCH_PINS:-"torch==2.14.1 torchvision==0.29.1"}
stamp=.venv/.setup-stamp
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
if [[ -f $stamp && $(cat $stamp) == "$want" ]]; then
  exit 0
fi
[[ -x .venv/bin/python ]] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
# shellcheck disable=SC2086
.venv/bin/python -m pip install -q --disable-pip-version-check $TORCH_PINS
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[dev,cluster]"
echo "$want" > $stamp
echo "reglab: environment ready in .venv"
