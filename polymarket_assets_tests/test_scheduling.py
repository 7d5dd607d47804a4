"""The work units of `pytest -n` (scheduling.py) name modules that exist, and every test module that uses an ML
world is in the world's unit, so one worker builds each world once."""

import re

from polymarket_assets_tests.deploy.topology import REPO_ROOT
from polymarket_assets_tests.scheduling import FIRST, GROUPS, unit_of

WORLD_USER = re.compile(r"def test_\w+\([^)]*\b(?:signal|null)_world\b")


def test_every_module_named_for_the_workers_exists():
    assert [module for module in {*GROUPS, *FIRST} if not (REPO_ROOT / module).is_file()] == []


def test_every_module_using_an_ml_world_runs_in_the_worlds_unit():
    users = {
        path.relative_to(REPO_ROOT).as_posix()
        for path in (REPO_ROOT / "polymarket_assets_tests").rglob("test_*.py")
        if WORLD_USER.search(path.read_text())
    }
    assert users and {unit_of(module) for module in users} == {"ml_worlds"}, users
