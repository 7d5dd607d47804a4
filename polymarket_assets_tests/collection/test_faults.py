"""Injected 429s, 5xx, hangs past the client timeout, Cloudflare pages and error bodies lose no snapshot."""

from datetime import timedelta

import duckdb
import pytest

from polymarket_assets.defs.resources import polymarket_run_config
from polymarket_assets.lib.parquet_store import Lake
from polymarket_assets_tests.collection.conftest import HOUR0
from polymarket_assets_tests.collection.harness import load_defs, partition_of, run_job, run_slots

FAULTS = {
    "http429_rate": 0.08,
    "retry_after_s": 0,
    "http5xx_rate": 0.08,
    "hang_rate": 0.04,
    "hang_s": 2.0,
    "cloudflare403_rate": 0.04,
    "error200_rate": 0.05,
    "malformed_rate": 0.05,
}


def client() -> dict:
    """Short timeouts and many retries, bound to the simulator's URLs: built once the module's environment is set
    (the URL bindings are chosen from the environment when the config is built)."""
    return polymarket_run_config(read_timeout_s=0.5, max_retries=12, backoff_base_s=0.01, backoff_cap_s=0.1)


@pytest.fixture(scope="module")
def faulty(collection_env):
    env = collection_env
    sim = env["sim"]
    defs = load_defs()
    lake = Lake(env["data_dir"])
    assert run_job(
        defs, env["instance"], "markets_job", partition_of(HOUR0 - timedelta(hours=1)), client()
    ).success
    sim.control.set_faults(profile="none", **FAULTS)
    outcomes = run_slots(sim, lake, HOUR0, ["T0", "T1", "T2", "T3", "T4"], overrides=client(), timeout_s=120)
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
        assert status == "captured" and captured == expected and expected > 0, (
            tier,
            status,
            expected,
            captured,
        )


@pytest.fixture(scope="module")
def bad_records(faulty, collection_env):
    """A second discovery and slot where responses carry records with impossible values."""
    env = collection_env
    sim, lake = env["sim"], faulty["lake"]
    defs = load_defs()
    sim.control.set_time((HOUR0 + timedelta(minutes=59, seconds=50)).timestamp())
    before = {
        r["condition_id"] for r in lake.read("markets_current").to_pylist() if r["discovery_status"] == "open"
    }
    # Every discovery page carries one bad market; most book responses carry a bad book.
    sim.control.set_faults(profile="none", bad_record_rate=1.0)
    discovery = run_job(defs, env["instance"], "markets_job", partition_of(HOUR0), client())
    sim.control.set_faults(profile="none", bad_record_rate=0.6)
    outcomes = run_slots(
        sim, lake, HOUR0 + timedelta(hours=1), ["T2", "T4"], overrides=client(), timeout_s=120
    )
    stats = sim.control.stats()
    sim.control.set_faults(profile="none")
    return {
        "discovery": discovery,
        "outcomes": outcomes,
        "before": before,
        "stats": stats,
        "lake": lake,
        "data_dir": env["data_dir"],
        "sim_markets": sim.control.markets(),
    }


def test_bad_records_are_quarantined_with_a_reason(bad_records):
    assert bad_records["discovery"].success
    injected = bad_records["stats"]["faults"].get("bad_record", 0)
    assert injected > 0, bad_records["stats"]
    rows = duckdb.sql(
        f"SELECT source, reason, raw FROM read_parquet('{bad_records['data_dir']}/quarantine/**/*.parquet', hive_partitioning=true)"
    ).fetchall()
    sources = {source for source, _, _ in rows}
    assert {"gamma_markets"} <= sources and any(s.startswith("snapshots_") for s in sources), sources
    assert all(reason for _, reason, _ in rows)
    assert any("1.7" in raw for _, _, raw in rows)


def test_a_quarantined_market_is_not_mistaken_for_a_closed_one(bad_records):
    lake = bad_records["lake"]
    current = {r["condition_id"]: r for r in lake.read("markets_current").to_pylist()}
    gone_now = {cid for cid in bad_records["before"] if current[cid]["discovery_status"] != "open"}
    truth = {m["condition_id"]: m for m in bad_records["sim_markets"]}
    # Only markets the simulator really closed may leave the open listing.
    assert all(truth[cid]["state"] != "open" for cid in gone_now), gone_now


def test_bad_book_records_cost_no_snapshot(bad_records):
    for tier, outcome in bad_records["outcomes"]:
        assert outcome.success, (tier, outcome.error)
    hour1 = HOUR0 + timedelta(hours=1)
    sweeps = duckdb.sql(
        f"SELECT tier, status, expected, captured FROM read_parquet('{bad_records['data_dir']}/lake/sweeps/**/*.parquet', hive_partitioning=true) "
        f"WHERE slot_ts >= '{hour1.isoformat()}'"
    ).fetchall()
    assert len(sweeps) == 5
    for tier, status, expected, captured in sweeps:
        assert status == "captured" and captured == expected, (tier, status, expected, captured)
