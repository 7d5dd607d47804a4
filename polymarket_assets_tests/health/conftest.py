"""A paused simulator, an isolated lake and a real (temporary, SQLite) Dagster instance per test module."""

from datetime import UTC, datetime, timedelta

import pytest

from polymarket_assets_tests.collection.harness import sim_dagster_env
from polymarket_sim import run_sim

# A fixed past hour (after the tests' PM_COLLECTION_START): every hourly partition the tests touch exists.
HOUR = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def sim():
    with run_sim(
        markets=120, seed=5, speed=0.0, faults="none", start=(HOUR - timedelta(minutes=2)).isoformat()
    ) as handle:
        yield handle


@pytest.fixture(scope="module")
def env(sim, tmp_path_factory):
    with sim_dagster_env(sim, tmp_path_factory) as env:
        yield env
