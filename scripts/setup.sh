#!/usr/bin/env bash
# Idempotent set-up: a .venv in the repo root with torch, reglab (editable) and the dev tools.
# Re-running is a no-op until pyproject.toml or this script changes.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
# Every version CI tests with (torch and torchvision included) is in constraints.txt; pip
# installs exactly those. CONSTRAINTS=/dev/null takes the newest instead.
CONSTRAINTS=${CONSTRAINTS:-constraints.txt}
stamp=.venv/.setup-stamp
want=$(cat pyproject.toml scripts/setup.sh "$CONSTRAINTS" | sha256sum | cut -c1-16)
if [[ -f $stamp && $(cat $stamp) == "$want" ]]; then
  exit 0
fi
[[ -x .venv/bin/python ]] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
# torch first, alone: the resolver then never weighs other torch builds
.venv/bin/python -m pip install -q --disable-pip-version-check -c "$CONSTRAINTS" torch torchvision
.venv/bin/python -m pip install -q --disable-pip-version-check -c "$CONSTRAINTS" -e ".[dev,cluster]"
echo "$want" > $stamp
echo "reglab: environment ready in .venv"
