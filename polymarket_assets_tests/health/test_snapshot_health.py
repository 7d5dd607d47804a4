"""Snapshot partitions tell the truth: materialized only with rows, the hour's row count, missed sweeps reported
as a check result, and no check left "In Progress" by overlapping slot runs."""

import time
from datetime import timedelta

import dagster as dg
import pytest
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from polymarket_assets.defs.snapshots.schedules import snapshot_run_request
from polymarket_assets.lib.parquet_store import Lake
from polymarket_assets.lib.tiers import DEFAULT_PLAN
from polymarket_assets_tests.collection.harness import (
    load_defs,
    partition_of,
    run_job,
    run_slots,
    sweep_logged,
)
from polymarket_assets_tests.health.conftest import HOUR
from polymarket_tools.local_runner import LocalRunPool

T4 = dg.AssetKey("snapshots_t4")


def _materializations(instance, key: dg.AssetKey, partition: str) -> list:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=100
    ).records
    return [r.asset_materialization for r in records]


def _check_records(instance, key: dg.AssetKey, name: str) -> list:
    return instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(key, name), limit=100
    )


def _late_t4_slot(sim, lake, slot, late_by_s: float):
    """Launch the T4 slot run with the clock already `late_by_s` past the slot's start, then step its later instants."""
    sim.control.set_time((slot + timedelta(seconds=late_by_s)).timestamp())
    request = snapshot_run_request(DEFAULT_PLAN.by_name("T4"), slot - timedelta(minutes=1))
    with LocalRunPool(workers=1) as pool:
        future = pool.submit_request("snapshots_t4_job", request)
        for offset in (0, 15, 30, 45):
            instant = slot + timedelta(seconds=offset)
            if offset > late_by_s:
                sim.control.set_time(instant.timestamp())
            deadline = time.monotonic() + 60
            while not sweep_logged(lake, "T4", instant) and not future.done():
                assert time.monotonic() < deadline, f"sweep {instant} never logged"
                time.sleep(0.02)
        return future.result()


@pytest.fixture(scope="module")
def world(env):
    defs = load_defs()
    lake = Lake(env["data_dir"])
    sim, instance = env["sim"], env["instance"]
    out = {"defs": defs, "lake": lake, **env}
    # Before any discovery: slot runs sweep no market at all.
    out["empty"] = run_slots(sim, lake, HOUR - timedelta(minutes=1), ["T4"])
    assert run_job(defs, instance, "markets_job", partition_of(HOUR - timedelta(hours=1))).success
    out["full"] = run_slots(sim, lake, HOUR, ["T4", "T3"])
    out["full"] += run_slots(sim, lake, HOUR + timedelta(minutes=1), ["T4", "T3"])
    out["warn"] = _late_t4_slot(sim, lake, HOUR + timedelta(minutes=2), late_by_s=20)
    out["error"] = _late_t4_slot(sim, lake, HOUR + timedelta(minutes=3), late_by_s=50)
    return out


def test_a_slot_run_without_rows_does_not_materialize_its_hour(world):
    ((_, outcome),) = world["empty"]
    assert outcome.success, outcome.error
    assert _materializations(world["instance"], T4, partition_of(HOUR - timedelta(minutes=1))) == []
    assert partition_of(HOUR - timedelta(minutes=1)) not in world["instance"].get_materialized_partitions(T4)
    # Nothing was scheduled and nothing missed, but no discovery had run: the slot warns rather than looks healthy.
    assert outcome.checks["sweeps_on_time"] and not outcome.checks["non_empty"]


def test_each_materialization_reports_the_hours_rows_so_far(world):
    lake, instance = world["lake"], world["instance"]
    assert all(o.success for _, o in world["full"])
    hour_rows = lake.read(
        "snapshots", {"tier": "T4", "date": HOUR.strftime("%Y-%m-%d"), "hour": HOUR.strftime("%H")}
    ).num_rows
    mats = _materializations(instance, T4, partition_of(HOUR))  # newest first
    counts = [m.metadata["dagster/row_count"].value for m in mats]
    slot_rows = [m.metadata["slot_rows"].value for m in mats]
    assert counts[0] == hour_rows and counts[0] == sum(slot_rows)
    assert counts == sorted(counts, reverse=True) and counts[-1] == slot_rows[-1] < counts[0]


def _latest_evaluation(instance, run_id: str, name: str) -> dg.AssetCheckEvaluation:
    [record] = [r for r in _check_records(instance, T4, name) if r.run_id == run_id]
    return record.event.dagster_event.event_specific_data


def test_a_slot_run_that_missed_sweeps_says_so_in_a_check(world):
    instance = world["instance"]
    warn, error = world["warn"], world["error"]
    assert warn.success and error.success  # the runs themselves are fine: only the check tells
    one = _latest_evaluation(instance, warn.run_id, "sweeps_on_time")
    assert not one.passed and one.severity == dg.AssetCheckSeverity.WARN
    assert one.metadata["sweeps_missed"].value == 1 and one.metadata["sweeps"].value == 4
    three = _latest_evaluation(instance, error.run_id, "sweeps_on_time")
    assert not three.passed and three.severity == dg.AssetCheckSeverity.ERROR
    assert three.metadata["sweeps_missed"].value == 3
    for _, outcome in world["full"]:
        assert outcome.checks["sweeps_on_time"]


def test_no_snapshot_check_is_left_in_progress(world):
    instance, defs, sim = world["instance"], world["defs"], world["sim"]
    sim.control.set_time((HOUR + timedelta(hours=1, minutes=15)).timestamp())
    reassembly = run_job(defs, instance, "snapshots_reassembly_job", partition_of(HOUR))
    assert reassembly.success
    asset = defs.resolve_assets_def("snapshots_t4")
    for spec in asset.check_specs:
        records = _check_records(instance, T4, spec.name)
        assert records, spec.name
        pending = [r for r in records if r.status == AssetCheckExecutionRecordStatus.PLANNED]
        assert pending == [], (spec.name, [(r.run_id, r.partition) for r in pending])
        assert spec.description, spec.name
    # The hourly re-assembly judged the whole hour: one T4 instant missed in one minute, three in another.
    verdict = {e.check_name: e for e in reassembly.get_asset_check_evaluations() if e.asset_key == T4}[
        "sweeps_on_time"
    ]
    assert not verdict.passed and verdict.metadata["sweeps_missed"].value == 4
