# Every target works on a fresh machine with only Python 3.11 and make.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

UV := $(VENV)/bin/uv
LOCK_FLAGS := --universal --python-version 3.11 --generate-hashes --no-strip-extras --custom-compile-command "make lock" --quiet

.PHONY: setup test demo bench dev dev-sim clean lock

# Exactly the locked versions, every file checked against its hash; then the project itself, without
# resolving anything. polymarket_assets_tests/deploy/test_lock.py fails when the lock and pyproject.toml disagree.
$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# After changing dependencies in pyproject.toml: re-resolve the three locks (everything for setup/CI, the
# runtime and the Dagster-family images), keeping every version that still fits.
lock: setup
	$(UV) pip compile pyproject.toml --extra test --extra dev $(LOCK_FLAGS) -o requirements.lock
	$(UV) pip compile pyproject.toml -c requirements.lock $(LOCK_FLAGS) -o deploy/requirements-runtime.lock
	$(PY) deploy/requirements.py pyproject.toml dagster dagster-webserver dagster-postgres \
		| $(UV) pip compile - -c requirements.lock $(LOCK_FLAGS) -o deploy/requirements-dagster.lock

setup: $(STAMP)

# Two workers (pytest-xdist): the soak starts at once on one of them. PYTEST_ARGS="-n 0" runs serially.
# Lint and formatting first (seconds), then the suite on two workers (polymarket_assets_tests/scheduling.py).
test: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -q -n 2 $(PYTEST_ARGS)

demo: setup
	$(PY) -m polymarket_tools.demo

bench: setup
	$(PY) -m benchmarks.run_all

dev: setup
	bash scripts/dev.sh

dev-sim: setup
	PM_SOURCE=sim bash scripts/dev.sh

clean:
	rm -rf $(VENV) .dagster_home data/lake data/raw data/incoming data/quarantine data/warehouse.duckdb data/sim
