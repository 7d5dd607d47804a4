"""How `pytest -n N` (pytest-xdist with `--dist loadscope`, set in pyproject.toml) shares the suite among its
workers: a work unit is a test module (its module-scoped fixtures, such as a running simulator or Dagster
stack, are built once), or several modules that share something (GROUPS); the longest units go out first.

xdist's own `--dist loadgroup` with `xdist_group` marks groups nothing under pytest 9.2
(pytest-dev/pytest-xdist#1386), so the units are named here and a scheduler of ours uses them."""

from __future__ import annotations

import pytest
from xdist.scheduler import LoadScopeScheduling

GROUPS = {
    # The soak leads its unit and the quick operation tests follow it: a worker starts a test only once it holds
    # the next one, so a unit of the soak alone would hold another unit back behind the soak's many minutes.
    "polymarket_assets_tests/operation/test_soak.py": "operation",
    "polymarket_assets_tests/operation/test_automation.py": "operation",
    "polymarket_assets_tests/operation/test_discovery_sensor.py": "operation",
    # The ML worlds are session fixtures that take minutes to build (ml/conftest.py): one worker builds them.
    "polymarket_assets_tests/ml/test_leakage.py": "ml_worlds",
    "polymarket_assets_tests/ml/test_notebook.py": "ml_worlds",
    "polymarket_assets_tests/ml/test_sim_worlds.py": "ml_worlds",
    # Dagster's CLIs keep a `.tmp_dagster_home_*` in the checkout while test_repo_root runs them, and
    # test_compose reads every file of the checkout: not at the same time.
    "polymarket_assets_tests/operation/test_repo_root.py": "checkout",
    "polymarket_assets_tests/deploy/test_compose.py": "checkout",
}
# Modules whose units are handed out first, in this order, each module leading its unit; the rest follow in
# collection order. The soak waits out its 300 wall seconds and ingestion's batching window, and fails on an
# overloaded machine, so it starts at once beside a single other worker. The others take a minute or more each
# (the planned restart mostly waits on the simulator's clock): started late, one would leave a worker idle at
# the end.
FIRST = (
    "polymarket_assets_tests/operation/test_soak.py",
    "polymarket_assets_tests/ml/test_leakage.py",
    "polymarket_assets_tests/deploy/test_topology.py",
    "ws_sidecar_tests/test_planned_restart.py",
)


def unit_of(nodeid: str) -> str:
    module = nodeid.split("::", 1)[0]
    return GROUPS.get(module, module)


class UnitScheduling(LoadScopeScheduling):
    """xdist's load-by-scope scheduling, with `unit_of` as the scope."""

    def _split_scope(self, nodeid: str) -> str:
        return unit_of(nodeid)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log) -> LoadScopeScheduling | None:
    return UnitScheduling(config, log) if config.getvalue("dist") == "loadscope" else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On a worker, FIRST's units lead the collection, each led by its FIRST module; with `--no-loadscope-reorder`
    the controller then hands units out in collection order. A serial run keeps pytest's order."""
    if not hasattr(config, "workerinput"):
        return
    rank = {unit_of(module): index for index, module in enumerate(FIRST)}

    def order(item: pytest.Item) -> tuple[int, bool]:
        module = item.nodeid.split("::", 1)[0]
        return rank.get(unit_of(module), len(rank)), module not in FIRST

    items.sort(key=order)
