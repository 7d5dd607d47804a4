"""The warehouse builds itself under the daemon: an automation sensor that runs by default, and a
`warehouse` condition that fires at start-up and at every ten-minute tick (not only when all eleven
dependencies happened to update inside one window)."""

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
    automated = {key for key in repo.asset_graph.get_all_asset_keys() if repo.asset_graph.get(key).automation_condition}
    assert WAREHOUSE in automated and {dg.AssetKey("predictions"), dg.AssetKey("backtest")} <= automated
    assert automated <= targeted


def test_warehouse_builds_at_start_up_then_on_each_ten_minute_tick_without_waiting_for_its_deps():
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

        # 12:10 passed; none of the warehouse's dependencies was materialized in the meantime.
        tick = dg.evaluate_automation_conditions(
            defs, instance, dg.AssetSelection.assets(WAREHOUSE), start + timedelta(minutes=7, seconds=30), later.cursor
        )
        assert _requested(tick), "the ten-minute tick must rebuild the warehouse"
