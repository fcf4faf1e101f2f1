# Everyday commands. `make train ARGS="regularizer=dropout model=mlp"`.
PY := .venv/bin/python
RUFF := .venv/bin/ruff
LINTED := src tests scripts train.py eval.py
ARGS ?=

.PHONY: setup train test test-slow lint format ci bench help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

setup:  ## create/update .venv (torch, reglab editable, dev and cluster extras)
	bash scripts/setup.sh

train: setup  ## one run: make train ARGS="regularizer=dropout"
	$(PY) train.py $(ARGS)

test: setup  ## the default suite (not the slow tests)
	OMP_NUM_THREADS=1 $(PY) -m pytest $(ARGS)

test-slow: setup  ## the slow tests (real data, many epochs)
	OMP_NUM_THREADS=1 $(PY) -m pytest -m slow $(ARGS)

lint: setup  ## what CI checks: ruff format --check and ruff check
	$(RUFF) format --check $(LINTED)
	$(RUFF) check $(LINTED)

format: setup  ## fix formatting and the fixable lint
	$(RUFF) format $(LINTED)
	$(RUFF) check --fix $(LINTED)

ci:  ## what CI runs, from set-up to tests
	bash .ci/run

bench: setup  ## the epoch benchmark of the README (needs DATA_DIR with Fashion-MNIST)
	$(PY) scripts/bench_epoch.py --epochs 2 --rounds 3
