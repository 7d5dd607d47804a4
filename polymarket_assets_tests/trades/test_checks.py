"""The recording's health checks: status-file verdicts, gap minutes per hour, freshness, the schedules."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import dagster as dg

from polymarket_assets.defs.resources import ClockResource, LakeResource
from polymarket_assets.defs.trades.assets import trades, ws_gaps
from polymarket_assets.defs.trades.checks import trades_fresh, ws_gap_minutes, ws_sidecar_health
from polymarket_assets.defs.trades.schedules import whale_events_schedule
from polymarket_assets_tests.lib.test_recorder_health import HEALTHY
from ws_sidecar.state import write_json_atomic


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
