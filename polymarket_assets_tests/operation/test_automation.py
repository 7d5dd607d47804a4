"""The warehouse builds itself under the daemon: an automation sensor that runs by default, and a
`warehouse` condition that fires at start-up (not only when all eleven dependencies happened to update inside
one window), and then collection_health_job's ten-minute run."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from polymarket_assets.definitions import defs as load_defs

WAREHOUSE = dg.AssetKey("warehouse")


def _requested(result) -> bool:
    return result.get_num_requested(WAREHOUSE) == 1


def test_an_automation_sensor_runs_by_default_and_covers_the_warehouse_and_ml_assets():
    repo = load_defs().get_repository_def()
    sensors = [s for s in repo.sensor_defs if isinstance(s, dg.AutomationConditionSensorDefinition)]
    assert [s.name for s in sensors] == ["automation_condition_sensor"]
    (sensor,) = sensors
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    targeted = sensor.asset_selection.resolve(repo.asset_graph)
    automated = {
        key for key in repo.asset_graph.get_all_asset_keys() if repo.asset_graph.get(key).automation_condition
    }
    assert WAREHOUSE in automated and {dg.AssetKey("predictions"), dg.AssetKey("backtest")} <= automated
    assert automated <= targeted


def test_warehouse_builds_at_start_up_without_waiting_for_its_deps_then_every_ten_minutes_with_health():
    defs = load_defs()
    start = datetime(2026, 12, 5, 12, 3, tzinfo=UTC)
    with dg.instance_for_test() as instance:
        first = dg.evaluate_automation_conditions(defs, instance, dg.AssetSelection.assets(WAREHOUSE), start)
        assert _requested(first), "a never-built warehouse must be requested at start-up"

        instance.report_runless_asset_event(dg.AssetMaterialization(WAREHOUSE))
        later = dg.evaluate_automation_conditions(
            defs, instance, dg.AssetSelection.assets(WAREHOUSE), start + timedelta(minutes=2), first.cursor
        )
        assert not _requested(later), "built, and no ten-minute tick since"

        # After start-up the ten-minute rebuild is a schedule's, running by default, in one run with the health.
        schedule = defs.resolve_schedule_def("collection_health_schedule")
        assert (
            schedule.cron_schedule == "*/10 * * * *"
            and schedule.default_status == dg.DefaultScheduleStatus.RUNNING
        )
        assert WAREHOUSE in defs.resolve_job_def(schedule.job_name).asset_layer.selected_asset_keys
