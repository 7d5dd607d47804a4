"""`collection_health`: green on a healthy lake, red (per figure) on a lake with a gap, every check described."""

import json
import os
import time
from datetime import timedelta

import dagster as dg
import pyarrow as pa
import pytest

from polymarket_assets.defs.resources import ClockResource, LakeResource
from polymarket_assets.lib import tables
from polymarket_assets.lib.coverage import expected_pairs
from polymarket_assets.lib.health_thresholds import HealthThresholds
from polymarket_assets.lib.parquet_store import Lake
from polymarket_assets.lib.schemas import MARKET_STATE_SCHEMA, SNAPSHOT_SCHEMA, SWEEP_SCHEMA, WS_GAPS_SCHEMA
from polymarket_assets.lib.warehouse import build_warehouse
from polymarket_assets_tests.health.conftest import HOUR
from polymarket_sim import run_sim

NOW = HOUR + timedelta(minutes=30)
PREVIOUS = HOUR - timedelta(hours=1)
# Hours to close at the first discovery: one market per tier T0 … T4.
MARKETS = {"t0": 100.0, "t1": 30.0, "t2": 8.0, "t3": 3.0, "t4": 0.9}


def _parts(hour):
    return {"date": hour.strftime("%Y-%m-%d"), "hour": hour.strftime("%H")}


def build_healthy_lake(data_dir) -> Lake:
    """Discovery at 08:50, every scheduled pair captured from 09:00 to NOW, a live recorder, a fresh warehouse."""
    lake = Lake(data_dir)
    observed = PREVIOUS - timedelta(minutes=10)
    states = [
        {
            "observed_at": observed,
            "condition_id": cid,
            "yes_token_id": f"y{cid}",
            "no_token_id": f"n{cid}",
            "question": f"Will {cid}?",
            "end_date": observed + timedelta(hours=h),
        }
        for cid, h in MARKETS.items()
    ]
    lake.write(
        "market_states", pa.Table.from_pylist(states, schema=MARKET_STATE_SCHEMA), _parts(observed), "d"
    )
    for hour in (PREVIOUS, HOUR):
        end = min(hour + timedelta(hours=1), NOW)
        by_tier = expected_pairs(states, hour, end)
        for tier, pairs in by_tier.items():
            if not pairs:
                continue
            rows = [
                {"condition_id": cid, "tier": tier, "slot_ts": ts, "captured_at": ts, "source": "books"}
                for cid, ts in sorted(pairs)
            ]
            lake.write(
                "snapshots",
                pa.Table.from_pylist(rows, schema=SNAPSHOT_SCHEMA),
                {"tier": tier, **_parts(hour)},
                "s",
            )
            sweeps = [
                {
                    "tier": tier,
                    "slot_ts": ts,
                    "started_at": ts,
                    "lag_s": 0.0,
                    "status": "captured",
                    "expected": 1,
                    "captured": 1,
                    "duration_s": 0.1,
                    "run_id": "r",
                }
                for ts in sorted({ts for _, ts in pairs})
            ]
            lake.write(
                "sweeps",
                pa.Table.from_pylist(sweeps, schema=SWEEP_SCHEMA),
                {"tier": tier, **_parts(hour)},
                "w",
            )
    status_dir = data_dir / "ws_sidecar"
    status_dir.mkdir()
    (status_dir / "status.json").write_text(
        json.dumps({"state": "running", "updated_at_wall": time.time(), "last_message_age_s": 0.5})
    )
    build_warehouse(data_dir, tables.views())
    return lake


@pytest.fixture(scope="module")
def clock():
    with run_sim(markets=5, seed=3, speed=0.0, faults="none", start=NOW.isoformat()) as sim:
        yield sim


def _health(data_dir, clock) -> dict[str, dg.AssetCheckEvaluation]:
    from polymarket_assets.defs.health.assets import collection_health

    result = dg.materialize(
        [collection_health],
        resources={
            "lake": LakeResource(data_dir=str(data_dir)),
            "clock": ClockResource(source="sim", sim_control_url=clock.env["PM_SIM_CONTROL_URL"]),
        },
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    return {"metadata": {k: v.value for k, v in metadata.items()}, "checks": checks}


def test_every_check_has_a_description():
    from polymarket_assets.defs.health.assets import collection_health

    assert len(collection_health.check_specs) == 7
    for spec in collection_health.check_specs:
        assert spec.description and "PM_HEALTH_" in spec.description, spec.name


def test_a_healthy_lake_is_green(tmp_path, clock):
    build_healthy_lake(tmp_path)
    health = _health(tmp_path, clock)
    assert {n: c.passed for n, c in health["checks"].items()} == dict.fromkeys(health["checks"], True)
    md = health["metadata"]
    assert md["coverage_last_hour_min"] == 1.0 and md["coverage_current_hour_min"] == 1.0
    assert (
        md["coverage_last_hour_T4"] == 1.0 and md["coverage_current_hour_STALE"] is None
    )  # nothing scheduled
    assert md["discovery_age_s"] == pytest.approx(100 * 60)
    assert md["sweeps_lost_last_hour"] == 0 and md["recorder_gap_minutes_last_hour"] == 0.0
    assert 0 <= md["warehouse_age_s"] < 60 and 0.5 <= md["recorder_lag_s"] < 60


def test_a_lake_with_a_gap_is_red(tmp_path, clock):
    lake = build_healthy_lake(tmp_path)
    # Ten minutes of T4 lost last hour (the sweeps were late), and a six-minute websocket outage this hour.
    parts = {"tier": "T4", **_parts(PREVIOUS)}
    kept = lake.read("snapshots", parts).select(SNAPSHOT_SCHEMA.names)
    lost_from, lost_to = PREVIOUS + timedelta(minutes=20), PREVIOUS + timedelta(minutes=30)
    slot = kept.column("slot_ts").to_pylist()
    keep = pa.array([not (lost_from <= ts < lost_to) for ts in slot])
    lake.replace_partition("snapshots", kept.filter(keep), parts)
    sweeps = lake.read("sweeps", parts).select(SWEEP_SCHEMA.names).to_pylist()
    for row in sweeps:
        if lost_from <= row["slot_ts"] < lost_to:
            row.update(status="missed", captured=0)
    lake.replace_partition("sweeps", pa.Table.from_pylist(sweeps, schema=SWEEP_SCHEMA), parts)
    gap = {
        "gap_id": "g",
        "run_id": "r",
        "connection_id": "c",
        "start_ts": HOUR + timedelta(minutes=5),
        "end_ts": HOUR + timedelta(minutes=11),
        "reason": "disconnect",
        "n_assets": 10,
        "detected_at": NOW,
    }
    lake.write("ws_gaps", pa.Table.from_pylist([gap], schema=WS_GAPS_SCHEMA), _parts(HOUR), "g")

    health = _health(tmp_path, clock)
    failed = {n for n, c in health["checks"].items() if not c.passed}
    assert failed == {"coverage_last_hour", "sweeps_on_time", "recorder_gaps"}
    assert all(c.severity == dg.AssetCheckSeverity.ERROR for c in health["checks"].values())
    md = health["metadata"]
    assert (
        md["coverage_last_hour_T4"] == pytest.approx(50 / 60, abs=1e-6) and md["sweeps_lost_last_hour"] == 40
    )
    assert md["recorder_gap_minutes_current_hour"] == pytest.approx(6.0)


def test_no_recorder_no_warehouse_and_stale_discovery_are_red(tmp_path, clock, monkeypatch):
    build_healthy_lake(tmp_path)
    (tmp_path / "ws_sidecar" / "status.json").unlink()
    old = time.time() - 3600
    os.utime(tmp_path / "warehouse.duckdb", (old, old))
    monkeypatch.setenv("PM_HEALTH_DISCOVERY_AGE_S_MAX", "3600")  # the discovery is 100 min old
    health = _health(tmp_path, clock)
    failed = {n for n, c in health["checks"].items() if not c.passed}
    assert failed == {"recorder_lag", "warehouse_fresh", "discovery_fresh"}
    assert HealthThresholds.from_env().discovery_age_s_max == 3600


def test_a_bad_threshold_setting_is_a_clear_error():
    with pytest.raises(ValueError, match="PM_HEALTH_COVERAGE_MIN"):
        HealthThresholds.from_env({"PM_HEALTH_COVERAGE_MIN": "most"})


def test_the_code_location_runs_it_with_the_warehouse_every_ten_minutes_by_default():
    from polymarket_assets.definitions import defs

    loaded = defs()
    schedule = loaded.resolve_schedule_def("collection_health_schedule")
    assert schedule.cron_schedule == "*/10 * * * *"
    assert loaded.resolve_job_def("collection_health_job").asset_layer.selected_asset_keys == {
        dg.AssetKey("warehouse"),
        dg.AssetKey("collection_health"),
    }
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert (
        loaded.resolve_assets_def("collection_health").group_names_by_key[dg.AssetKey("collection_health")]
        == "health"
    )
    sensor = next(s for s in loaded.sensors if s.name == "ml_first_model_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
