"""The recording's health checks: status-file verdicts, gap minutes per hour, freshness, the schedules."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import dagster as dg
import pyarrow as pa

from polymarket_assets.defs.resources import ClockResource, LakeResource
from polymarket_assets.defs.trades.assets import trades, ws_gaps
from polymarket_assets.defs.trades.checks import (
    SidecarHealthConfig,
    gap_minutes_by_hour,
    sidecar_health,
    trades_fresh,
    ws_gap_minutes,
    ws_sidecar_health,
)
from polymarket_assets.defs.trades.schedules import whale_events_schedule
from polymarket_assets.lib.parquet_store import Lake
from polymarket_assets.lib.schemas import WS_GAPS_SCHEMA
from ws_sidecar.state import write_json_atomic

HEALTHY = {
    "state": "running",
    "updated_at_wall": 0.0,
    "markets_source": "lake",
    "connections_total": 2,
    "connections_live": 2,
    "oldest_connection_message_age_s": 0.4,
    "restart_gap_open": False,
    "backfill": {"last_error": None},
}


def test_status_file_verdicts():
    cfg = SidecarHealthConfig()
    assert sidecar_health(None, cfg, 100.0)[0] is False
    assert sidecar_health({**HEALTHY, "updated_at_wall": 95.0}, cfg, 100.0) == (True, [])
    cases = {
        "status not updated": {"updated_at_wall": 10.0},
        "state is 'stopped'": {"state": "stopped"},
        "connections not live": {"connections_live": 1},
        "no message": {"oldest_connection_message_age_s": 300.0},
        "recovering from a restart": {"restart_gap_open": True},
        "markets_current": {"markets_source": "none"},
        "backfill error": {"backfill": {"last_error": "boom"}},
    }
    for needle, change in cases.items():
        ok, problems = sidecar_health({**HEALTHY, "updated_at_wall": 95.0, **change}, cfg, 100.0)
        assert not ok and any(needle in p for p in problems), (needle, problems)


def test_a_connection_reconnecting_within_the_grace_is_not_down():
    cfg = SidecarHealthConfig(reconnect_grace_s=15.0)
    live = {"in_outage": False, "outage_s": None}

    def verdict(outage_s):
        conns = [live, {"in_outage": True, "outage_s": outage_s}]
        return sidecar_health(
            {**HEALTHY, "updated_at_wall": 95.0, "connections_live": 1, "connections": conns}, cfg, 100.0
        )

    assert verdict(2.0) == (True, [])
    ok, problems = verdict(60.0)
    assert not ok and problems == ["1 connections not live"]


def test_gap_minutes_are_a_union_per_hour_without_resyncs(tmp_path):
    now = datetime(2026, 11, 24, 12, 30, tzinfo=UTC)
    h = datetime(2026, 11, 24, 11, tzinfo=UTC)

    def gap(gid, start, minutes, reason="disconnect", conn="c00"):
        return {
            "gap_id": gid,
            "connection_id": conn,
            "start_ts": start,
            "end_ts": start + timedelta(minutes=minutes),
            "reason": reason,
        }

    rows = [
        gap("a", h + timedelta(minutes=50), 20),  # 10 min in 11:00, 10 in 12:00
        gap("b", h + timedelta(minutes=55), 3, conn="c01"),  # overlaps a: adds nothing
        gap("c", h + timedelta(minutes=5), 30, reason="resync"),
    ]  # not an outage
    lake = Lake(tmp_path)
    lake.replace_partition(
        "ws_gaps", pa.Table.from_pylist(rows, schema=WS_GAPS_SCHEMA), {"date": "2026-11-24", "hour": "11"}
    )
    by_hour = gap_minutes_by_hour(LakeResource(data_dir=str(tmp_path)), now, 3)
    assert by_hour == {"2026-11-24-12:00": 10.0, "2026-11-24-11:00": 10.0, "2026-11-24-10:00": 0.0}


def test_health_checks_through_a_job_on_an_empty_and_a_live_directory(tmp_path):
    defs = dg.Definitions(
        assets=[trades, ws_gaps],
        asset_checks=[trades_fresh, ws_gap_minutes, ws_sidecar_health],
        jobs=[
            dg.define_asset_job(
                "health", selection=dg.AssetSelection.checks(trades_fresh, ws_gap_minutes, ws_sidecar_health)
            )
        ],
        resources={"lake": LakeResource(data_dir=str(tmp_path)), "clock": ClockResource()},
    )
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("health").execute_in_process(instance=instance)
        verdicts = {e.check_name: e for e in result.get_asset_check_evaluations()}
        assert (
            not verdicts["ws_sidecar_health"].passed
            and verdicts["ws_sidecar_health"].severity == dg.AssetCheckSeverity.ERROR
        )
        assert not verdicts["trades_fresh"].passed and verdicts["ws_gap_minutes"].passed
        write_json_atomic(
            tmp_path / "ws_sidecar" / "status.json", {**HEALTHY, "updated_at_wall": time.time()}
        )
        result = defs.resolve_job_def("health").execute_in_process(instance=instance)
        verdict = {e.check_name: e for e in result.get_asset_check_evaluations()}["ws_sidecar_health"]
        assert verdict.passed and verdict.metadata["connections_live"].value == 2


def test_whale_schedule_targets_the_hour_that_just_ended():
    context = dg.build_schedule_context(scheduled_execution_time=datetime(2026, 11, 24, 13, 10, tzinfo=UTC))
    request = whale_events_schedule(context)
    assert request.partition_key == "2026-11-24-12:00" and request.run_key == "whale_events:2026-11-24-12:00"


def test_writer_failures_backlog_and_stalled_flushes_fail_the_health_check():
    cfg = SidecarHealthConfig()
    healthy = {
        **HEALTHY,
        "updated_at_wall": 95.0,
        "writer_errors": 3,
        "writer_consecutive_errors": 0,
        "pending_rows": 1_200,
        "last_flush_age_s": 4.0,
    }
    assert sidecar_health(healthy, cfg, 100.0) == (True, []), (
        "errors that later flushes recovered from are history"
    )
    cases = {
        "last 2 flushes failed: OSError: [Errno 28]": {
            "writer_consecutive_errors": 2,
            "writer_last_error": "OSError: [Errno 28] No space left",
        },
        "5000000 rows waiting for the writer": {"pending_rows": 5_000_000},
        "no flush completed for 300 s": {"last_flush_age_s": 300.0},
    }
    for needle, change in cases.items():
        ok, problems = sidecar_health({**healthy, **change}, cfg, 100.0)
        assert not ok and any(needle in p for p in problems), (needle, problems)
    # A recorder that only reports the total still fails while it has errors.
    legacy = {k: v for k, v in healthy.items() if k != "writer_consecutive_errors"}
    assert sidecar_health(legacy, cfg, 100.0)[0] is False
