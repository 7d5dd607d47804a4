"""Injected 429s, 5xx, hangs past the client timeout, Cloudflare pages and error bodies lose no snapshot."""

from datetime import timedelta

import duckdb
import pytest

from polymarket_assets.lib.parquet_store import Lake
from polymarket_assets_tests.collection.conftest import HOUR0
from polymarket_assets_tests.collection.harness import load_defs, partition_of, run_job, run_slots

FAULTS = {
    "http429_rate": 0.08, "retry_after_s": 0, "http5xx_rate": 0.08, "hang_rate": 0.04, "hang_s": 2.0,
    "cloudflare403_rate": 0.04, "error200_rate": 0.05, "malformed_rate": 0.05,
}
# Overriding a resource's config in run config replaces all of it, so the env bindings are restated.
CLIENT = {
    "resources": {
        "polymarket": {
            "config": {
                "gamma_url": {"env": "PM_GAMMA_URL"},
                "clob_url": {"env": "PM_CLOB_URL"},
                "data_api_url": {"env": "PM_DATA_API_URL"},
                "read_timeout_s": 0.5,
                "max_retries": 12,
                "backoff_base_s": 0.01,
                "backoff_cap_s": 0.1,
            }
        }
    }
}


@pytest.fixture(scope="module")
def faulty(collection_env):
    env = collection_env
    sim = env["sim"]
    defs = load_defs()
    lake = Lake(env["data_dir"])
    assert run_job(defs, env["instance"], "markets_job", partition_of(HOUR0 - timedelta(hours=1)), CLIENT).success
    sim.control.set_faults(profile="none", **FAULTS)
    outcomes = run_slots(sim, lake, HOUR0, ["T0", "T1", "T2", "T3", "T4"], overrides=CLIENT, timeout_s=120)
    stats = sim.control.stats()
    sim.control.set_faults(profile="none")
    return {"outcomes": outcomes, "stats": stats, "data_dir": env["data_dir"], "lake": lake}


def test_every_fault_kind_was_injected(faulty):
    injected = faulty["stats"]["faults"]
    for kind in ("http429", "http5xx", "hang", "cloudflare403", "error200", "malformed"):
        assert injected.get(kind, 0) > 0, (kind, injected)


def test_no_snapshot_lost(faulty):
    for tier, outcome in faulty["outcomes"]:
        assert outcome.success, (tier, outcome.error)
    sweeps = duckdb.sql(
        f"SELECT tier, status, expected, captured, slot_ts, lag_s, started_at, run_id FROM read_parquet('{faulty['data_dir']}/lake/sweeps/**/*.parquet', hive_partitioning=true)"
    ).fetchall()
    assert len(sweeps) == 1 + 1 + 1 + 2 + 4
    assert len(sweeps) == 1 + 1 + 1 + 2 + 4
    for tier, status, expected, captured, *_ in sweeps:
        assert status == "captured" and captured == expected and expected > 0, (tier, status, expected, captured)
