# Fresh-machine entry points: `make demo` and `make test` (see README.md).
# TORCH is the torch requirement installed before the project; override it for GPU builds,
# e.g. `make demo TORCH="torch==2.13.0" PIP_ARGS="--index-url https://download.pytorch.org/whl/cu124"`.
PYTHON ?= python3
TORCH ?= torch==2.13.0
PIP_ARGS ?=
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-slow lint bench-quick bench-peers clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch is pinned in the same pip command, so no dependency can pull a CUDA build.
	$(BIN)/python -m pip install --quiet $(PIP_ARGS) "$(TORCH)" -e ".[demo,test,bench,dev]"
	touch $(STAMP)

# The demo owns demo_study.db: each `make demo` starts a fresh study.
demo: $(STAMP)
	rm -rf demo_study.db demo_study.db-wal demo_study.db-shm demo_study.db.lock demo_study.artifacts
	$(BIN)/python examples/digits_demo.py --storage demo_study.db

test: $(STAMP)
	$(BIN)/python -m pytest tests

test-slow: $(STAMP)
	HPO_RUN_SLOW=1 $(BIN)/python -m pytest tests

# Benchmark peers that install beside our pins (SMAC3 for benchmarks.run cash); never part of
# `make test` or `make demo`.
bench-peers: $(STAMP)
	$(BIN)/python -m pip install --quiet $(PIP_ARGS) "$(TORCH)" -e ".[peers]"

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) build dist *.egg-info demo_study.db demo_study.artifacts
