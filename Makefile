# Every target works on a fresh machine with only Python 3.11 and make.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup test demo bench dev dev-sim clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,dev]'
	touch $(STAMP)

setup: $(STAMP)

test: setup
	$(PY) -m pytest -q $(PYTEST_ARGS)

demo: setup
	$(PY) -m polymarket_assets.demo

bench: setup
	$(PY) -m benchmarks.run_all

dev: setup
	bash scripts/dev.sh

dev-sim: setup
	PM_SOURCE=sim bash scripts/dev.sh

clean:
	rm -rf $(VENV) .dagster_home data/lake data/raw data/incoming data/quarantine data/warehouse.duckdb data/sim
