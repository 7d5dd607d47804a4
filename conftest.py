"""Settings every test process shares (all test packages), applied before any test module imports the code location."""

import os

# The tests' simulated worlds are set in November 2026, before the machine's today: their partitions must exist
# (`lib/collection_start.py`; a test of the start itself passes its own environment).
os.environ.setdefault("PM_COLLECTION_START", "2026-11-01")

# How `pytest -n` (`make test`) groups and orders the suite on its workers.
pytest_plugins = ["polymarket_assets_tests.scheduling"]
