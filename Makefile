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

# Benchmark peers; never part of `make test` or `make demo`. Two environments:
# - ours (.venv) gets SMAC3 and FLAML, which install beside our pins (benchmarks/peers/requirements-main.txt,
#   the `peers` extra's exact versions). SMAC3 2.4.1 needs no pyrfr, so no swig from apt either.
# - .venv-peers gets Syne Tune 0.13.0, DEHB 0.1.2 and HEBO 0.3.6, whose numpy<1.25 clashes with ours
#   (benchmarks/peers/requirements.txt, exact pins). If that pip command fails, its last ERROR line is kept
#   in .venv-peers/install-error.txt and the benchmark reports print it beside each peer they could not run.
# Then the peers' smoke tests run, with no skips allowed (HPO_PEERS_STRICT=1).
PEERS_VENV := .venv-peers
PEERS_STAMP := $(PEERS_VENV)/.installed
PEERS_REQ := benchmarks/peers/requirements.txt
PEERS_MAIN_REQ := benchmarks/peers/requirements-main.txt
PEERS_MAIN_STAMP := $(VENV)/.peers-installed

bench-peers: $(PEERS_STAMP) $(PEERS_MAIN_STAMP)
	HPO_PEERS_STRICT=1 HPO_RUN_SLOW=1 HPO_PEERS_PYTHON="$(CURDIR)/$(PEERS_VENV)/bin/python" \
		$(BIN)/python -m pytest -q tests/test_bo_peers.py tests/test_mf_peers.py

$(PEERS_MAIN_STAMP): $(STAMP) $(PEERS_MAIN_REQ)
	$(BIN)/python -m pip install --quiet $(PIP_ARGS) "$(TORCH)" -r $(PEERS_MAIN_REQ)
	touch $@

$(PEERS_STAMP): $(PEERS_REQ) Makefile
	test -x $(PEERS_VENV)/bin/python || $(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install --quiet --upgrade pip
	# torch is pinned in the same pip command, so no dependency can pull a CUDA build.
	rm -f $(PEERS_VENV)/install-error.txt
	if $(PEERS_VENV)/bin/python -m pip install --quiet $(PIP_ARGS) "$(TORCH)" -r $(PEERS_REQ) \
		> $(PEERS_VENV)/pip.log 2>&1; then :; else status=$$?; \
		tail -n 30 $(PEERS_VENV)/pip.log; \
		grep -E '^(ERROR|error):' $(PEERS_VENV)/pip.log | tail -n 1 > $(PEERS_VENV)/install-error.txt; \
		[ -s $(PEERS_VENV)/install-error.txt ] || tail -n 1 $(PEERS_VENV)/pip.log > $(PEERS_VENV)/install-error.txt; \
		exit $$status; \
	fi
	touch $@

# A smoke run of every benchmark suite into a scratch folder (the committed tables are untouched).
bench-quick: $(STAMP)
	$(BIN)/python -m benchmarks.quick

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) build dist *.egg-info demo_study.db demo_study.artifacts demo_report.html
