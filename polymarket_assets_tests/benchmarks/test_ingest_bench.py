"""Smoke tests of `benchmarks/ingest_bench.py` on small sizes: shapes, and that the run count follows the
definitions (the batching window), not constants. No timing assertions."""

from __future__ import annotations

from benchmarks import ingest_bench
from polymarket_assets.lib.trades import plan


def test_ingest_runs_follow_the_batching_window(monkeypatch):
    default = ingest_bench.ingest_runs_per_day()
    assert default["batch_window_s"] == plan.DEFAULT_BATCH_S and default["health_only_runs"] == 0
    # One run per window, plus one for the previous hour's late files in the window after each boundary.
    assert default["ingest_runs"] == 86_400 // plan.DEFAULT_BATCH_S + 24
    monkeypatch.setattr(plan, "DEFAULT_BATCH_S", 600)
    assert ingest_bench.ingest_runs_per_day()["ingest_runs"] == 86_400 // 600 + 24


def test_runs_per_day_is_under_the_target_and_adds_up():
    result = ingest_bench.runs_per_day()
    parts = (
        "runs_per_day_ingest",
        "runs_per_day_snapshot_slots",
        "runs_per_day_other_schedules",
        "runs_per_day_automation",
        "runs_per_day_other_sensors",
    )
    assert abs(sum(result[p] for p in parts) - result["runs_per_day_50k"]) <= len(parts)
    assert result["runs_per_day_snapshot_slots"] == 2 * 24 + 288 + 3 * 1440  # T0 and STALE hourly, T1, T2-T4
    assert result["runs_per_day_50k"] <= ingest_bench.TARGET_RUNS_PER_DAY


def test_sidecar_startup_on_a_small_history():
    result = ingest_bench.sidecar_startup(files_per_day=600, days=20, old_day_scale=10)
    assert result["sidecar_startup_history_files"] == result["sidecar_startup_listed_files"] > 0
    assert result["sidecar_startup_year_s"] > 0 and "sidecar_startup_loadavg_1m" in result
