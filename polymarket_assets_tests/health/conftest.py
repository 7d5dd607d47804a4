"""A paused simulator, an isolated lake and a real (temporary, SQLite) Dagster instance per test module."""

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from polymarket_sim import run_sim

# A fixed past hour (after the tests' PM_COLLECTION_START): every hourly partition the tests touch exists.
HOUR = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def sim():
    with run_sim(markets=120, seed=5, speed=0.0, faults="none", start=(HOUR - timedelta(minutes=2)).isoformat()) as handle:
        yield handle


@pytest.fixture(scope="module")
def env(sim, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("data")
    home = tmp_path_factory.mktemp("dagster_home")
    patch = pytest.MonkeyPatch()
    for key, value in {**sim.env, "PM_CLOCK": "sim", "PM_DATA_DIR": str(data_dir), "DAGSTER_HOME": str(home)}.items():
        patch.setenv(key, value)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    instance = dg.DagsterInstance.get()
    yield {"data_dir": data_dir, "instance": instance, "sim": sim}
    instance.dispose()
    patch.undo()
