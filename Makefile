# Two entry points, each setting itself up on a fresh machine:
#   make demo   run the example bundles on the embedded SQLite ledger and show the results
#   make test   lint, type-check and run the test suite (what CI runs)

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench clean sandbox

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("uet needs Python >= 3.11; found " + sys.version.split()[0] + " (set PYTHON=...)") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	@PATH="$(CURDIR)/$(BIN):$$PATH" scripts/demo.sh

test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check core tests benchmarks scripts workstreams

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) sandbox
	$(BIN)/pytest

# The OS sandbox tools and gates run in (bubblewrap); installed where this machine lets us
# (root with apt), else the sandboxed tests skip outside CI and UET says it runs without one.
sandbox:
	@command -v bwrap >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
		&& (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null) \
		|| echo "bubblewrap not installed: sandboxed tests will skip (apt-get install bubblewrap)"; }

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_kernel.py
	$(BIN)/python benchmarks/bench_patches.py
	$(BIN)/python benchmarks/bench_workers.py
	$(BIN)/python benchmarks/bench_discovery.py
	$(BIN)/python benchmarks/bench_copies.py
	$(BIN)/python benchmarks/bench_queue.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov
