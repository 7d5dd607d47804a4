"""Schedules yield the right partition keys, run keys and slot config, evaluated through Dagster's own context."""

from datetime import UTC, datetime

import dagster as dg
import pytest

from polymarket_assets_tests.collection.harness import load_defs


@pytest.fixture(scope="module")
def repo():
    defs = load_defs()
    return defs, defs.get_repository_def()


def _evaluate(repo, name, tick):
    defs, repository = repo
    schedule = defs.resolve_schedule_def(name)
    context = dg.build_schedule_context(scheduled_execution_time=tick, repository_def=repository)
    return schedule, list(schedule.evaluate_tick(context).run_requests or [])


def test_t4_tick_launches_the_next_minute_slot(repo):
    tick = datetime(2026, 11, 25, 7, 59, tzinfo=UTC)
    schedule, requests = _evaluate(repo, "snapshots_t4_schedule", tick)
    assert schedule.cron_schedule == "* * * * *"
    (request,) = requests
    assert request.partition_key == "2026-11-25-08:00"
    assert request.run_key == "snapshots_t4:2026-11-25T08:00"
    assert request.run_config["ops"]["snapshots_t4"]["config"]["slot_start"] == "2026-11-25T08:00:00+00:00"
    assert request.tags["tier"] == "T4"


def test_t1_and_t0_ticks_precede_their_slots(repo):
    _, (t1,) = _evaluate(repo, "snapshots_t1_schedule", datetime(2026, 11, 25, 7, 14, tzinfo=UTC))
    assert t1.run_config["ops"]["snapshots_t1"]["config"]["slot_start"] == "2026-11-25T07:15:00+00:00"
    assert t1.partition_key == "2026-11-25-07:00"
    schedule, (t0,) = _evaluate(repo, "snapshots_t0_schedule", datetime(2026, 11, 25, 7, 59, tzinfo=UTC))
    assert schedule.cron_schedule == "59 * * * *"
    assert t0.partition_key == "2026-11-25-08:00"


def test_hourly_schedules_target_their_hours(repo):
    tick = datetime(2026, 11, 25, 7, 20, tzinfo=UTC)
    _, (coverage,) = _evaluate(repo, "coverage_schedule", tick)
    assert coverage.partition_key == "2026-11-25-06:00" and coverage.run_key == "coverage:2026-11-25-06:00"
    _, (markets,) = _evaluate(repo, "markets_schedule", datetime(2026, 11, 25, 7, 0, tzinfo=UTC))
    assert markets.partition_key == "2026-11-25-07:00"
    _, (reassembly,) = _evaluate(
        repo, "snapshots_reassembly_schedule", datetime(2026, 11, 25, 7, 15, tzinfo=UTC)
    )
    assert (
        reassembly.partition_key == "2026-11-25-06:00" and reassembly.run_key == "reassembly:2026-11-25-06:00"
    )
    # No `slot_start` for any tier: a snapshot run without one re-assembles its hour instead of sweeping a slot.
    assert reassembly.run_config == {}


def test_collection_schedules_are_on_by_default(repo):
    defs, _ = repo
    for schedule in defs.schedules:
        assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING, schedule.name
