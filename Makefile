# Fresh-machine entry points: `make demo` and `make test` (see README.md).
# TORCH is the torch requirement installed before the project; override it for GPU builds,
# e.g. `make demo TORCH="torch==2.13.0" PIP_ARGS="--index-url https://download.pytorch.org/whl/cu124"`.
PYTHON ?= python3
TORCH ?= torch==2.13.0
PIP_ARGS ?=
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo browser test test-slow lint bench-quick bench-peers clean venv

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
	$(BIN)/hpo report demo_study.db -o demo_report.html

test: $(STAMP) browser
	$(BIN)/python -m pytest tests

# Debian's Chromium, which tests/test_report_browser.py drives with playwright (no browser
# download). A no-op when /usr/bin/chromium exists; without apt-get (or root) it says so, and
# that one test skips.
browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif ! command -v apt-get >/dev/null 2>&1; then \
		echo "make browser: no /usr/bin/chromium and no apt-get; tests/test_report_browser.py will skip"; \
	else \
		echo "make browser: installing Debian's chromium (apt-get install -y chromium)"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 \
		|| (apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1) \
		|| echo "make browser: could not install chromium; tests/test_report_browser.py will skip"; \
	fi

test-slow: $(STAMP)
	HPO_RUN_SLOW=1 HPO_HYPOTHESIS_PROFILE=ci $(BIN)/python -m pytest tests

# Benchmark peers that install beside our pins (SMAC3 for benchmarks.run cash); never part of
# `make test` or `make demo`.
bench-peers: $(STAMP)
	$(BIN)/python -m pip install --quiet $(PIP_ARGS) "$(TORCH)" -e ".[peers]"

# A smoke run of every benchmark suite into a scratch folder (the committed tables are untouched).
bench-quick: $(STAMP)
	$(BIN)/python -m benchmarks.quick

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) build dist *.egg-info demo_study.db demo_study.artifacts demo_report.html
