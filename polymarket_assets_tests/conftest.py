"""Settings every test process shares, applied before any test module imports the code location; and how
`make test` (pytest-xdist, `-n 2 --dist loadgroup --no-loadscope-reorder`) groups and orders the suite."""

import os

import pytest

# The tests' simulated worlds are set in November 2026, before the machine's today: their partitions must exist
# (`lib/collection_start.py`; a test of the start itself passes its own environment).
os.environ.setdefault("PM_COLLECTION_START", "2026-11-01")

# Session fixtures that take minutes to build: every test using one runs in its group, on one worker, so the
# world is built once per run and not once per worker.
SHARED_WORLD_GROUPS = {"signal_world": "ml_worlds", "null_world": "ml_worlds"}
# Groups handed out first, longest first. The soak waits out its 300 wall seconds and fails when the machine is
# overloaded, so it starts at once beside a single other worker; the rest take minutes each.
FIRST_GROUPS = ("polymarket_assets_tests/operation/test_soak.py", "ml_worlds",
                "polymarket_assets_tests/deploy/test_topology.py")


def _group(item: pytest.Item) -> str:
    """An explicit `xdist_group` mark, else the world the test uses, else its module (whose module-scoped
    fixtures, such as a running simulator or Dagster stack, are then built once)."""
    for mark in item.iter_markers("xdist_group"):
        return mark.args[0] if mark.args else mark.kwargs["name"]
    worlds = {SHARED_WORLD_GROUPS[name] for name in item.fixturenames if name in SHARED_WORLD_GROUPS}
    return worlds.pop() if worlds else item.nodeid.split("::")[0]


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not hasattr(config, "workerinput"):  # a serial run keeps pytest's order
        return
    groups = {}
    for item in items:
        groups[item] = _group(item)
        if not any(item.iter_markers("xdist_group")):
            item.add_marker(pytest.mark.xdist_group(groups[item]))
    rank = {group: index for index, group in enumerate(FIRST_GROUPS)}
    items.sort(key=lambda item: rank.get(groups[item], len(rank)))
