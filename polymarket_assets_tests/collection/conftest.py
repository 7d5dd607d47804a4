"""A paused simulator, an isolated lake and a real (temporary, SQLite) Dagster instance per test module."""

from datetime import UTC, datetime, timedelta

import pytest

from polymarket_assets_tests.collection.harness import sim_dagster_env
from polymarket_sim import run_sim

# A fixed past hour: every hourly partition the tests touch already exists.
HOUR0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def sim():
    with run_sim(
        markets=300, seed=11, speed=0.0, faults="none", start=(HOUR0 - timedelta(minutes=2)).isoformat()
    ) as handle:
        yield handle


@pytest.fixture(scope="module")
def collection_env(sim, tmp_path_factory):
    with sim_dagster_env(sim, tmp_path_factory) as env:
        yield env
