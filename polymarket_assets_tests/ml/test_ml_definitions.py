"""The ML domain's definitions: asset graph, blocking gate, automation, schedules, retrain sensor and views."""

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import duckdb
import pytest

from polymarket_assets.defs.ml.schedules import RETRAIN_AFTER_RESOLUTIONS, retrain_decision
from polymarket_assets.defs.resources import LakeResource
from polymarket_assets.lib import tables
from polymarket_assets.lib.parquet_store import Lake
from polymarket_assets.lib.warehouse import build_warehouse
from polymarket_assets_tests.ml.lakefixtures import T0, resolution, write_resolutions

ML_ASSETS = {"features", "training_set", "xgb_model", "model_evaluation", "predictions", "backtest"}


@pytest.fixture(scope="module")
def defs():
    from polymarket_assets.definitions import defs as lazy

    return lazy()


def _asset(defs, name):
    return next(a for a in defs.assets if dg.AssetKey(name) in a.keys)


def test_ml_assets_are_nouns_in_group_ml_with_docstrings_and_kinds(defs):
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert ML_ASSETS <= keys
    for name in ML_ASSETS:
        node = graph.get(dg.AssetKey(name))
        assert node.group_name == "ml"
        assert node.kinds, name
        assert (node.description or "").strip(), name


def test_lineage_runs_from_collection_to_predictions(defs):
    graph = defs.resolve_asset_graph()

    def parents(name):
        return {k.to_user_string() for k in graph.get(dg.AssetKey(name)).parent_keys}

    assert {"snapshots_t2", "markets", "trades"} <= parents("features")
    assert {"features", "resolutions"} <= parents("training_set")
    assert parents("xgb_model") == {"training_set"}
    assert {"xgb_model", "training_set"} <= parents("model_evaluation")
    assert {"xgb_model", "features"} <= parents("predictions")
    assert isinstance(graph.get(dg.AssetKey("features")).partitions_def, dg.DailyPartitionsDefinition)


def test_training_gate_is_a_blocking_check_inside_the_training_job(defs):
    job = defs.resolve_job_def("ml_training_job")
    checks = list(job.asset_layer.asset_graph.asset_check_keys)
    gate = dg.AssetCheckKey(dg.AssetKey("training_set"), "training_set_ready")
    assert gate in checks
    spec = next(s for c in defs.asset_checks for s in c.check_specs if s.key == gate)
    assert spec.blocking


def test_downstream_assets_are_automated_and_features_are_scheduled_daily(defs):
    graph = defs.resolve_asset_graph()
    for name in ("model_evaluation", "predictions", "backtest"):
        assert graph.get(dg.AssetKey(name)).automation_condition is not None, name
    schedules = {s.name: s for s in defs.schedules}
    assert {"features_schedule", "ml_retrain_schedule", "predictions_schedule"} <= set(schedules)
    instance = dg.DagsterInstance.ephemeral()
    tick = datetime(2026, 11, 20, 0, 30, tzinfo=UTC)
    context = dg.build_schedule_context(
        instance=instance, scheduled_execution_time=tick, repository_def=defs.get_repository_def()
    )
    result = schedules["features_schedule"].evaluate_tick(context)
    assert [r.partition_key for r in result.run_requests] == ["2026-11-19"]  # yesterday, now complete
    weekly = schedules["ml_retrain_schedule"]
    assert weekly.cron_schedule == "0 3 * * 1" and weekly.job_name == "ml_training_job"
    assert {"ml_retrain_sensor"} <= {s.name for s in defs.sensors}


def test_retrain_decision_counts_new_resolutions_since_the_last_retrain():
    fire, cursor = retrain_decision(150, None, 200)
    assert not fire and json.loads(cursor) == {"resolved": 0}
    fire, cursor = retrain_decision(200, cursor, 200)
    assert fire and json.loads(cursor) == {"resolved": 200}
    fire, cursor = retrain_decision(399, cursor, 200)
    assert not fire
    assert retrain_decision(400, cursor, 200)[0]


def test_retrain_sensor_reads_final_labels_from_the_lake(defs, tmp_path):
    lake = Lake(tmp_path)
    rows = [
        resolution(f"m{i}", "YES" if i % 2 else "NO", T0 + timedelta(minutes=i))
        for i in range(RETRAIN_AFTER_RESOLUTIONS)
    ]
    rows += [resolution("inv", "INVALID", T0), resolution("unk", "UNKNOWN", T0)]
    write_resolutions(lake, rows)
    sensor = defs.resolve_sensor_def("ml_retrain_sensor")
    context = dg.build_sensor_context(resources={"lake": LakeResource(data_dir=str(tmp_path))})
    result = sensor(context)
    assert (
        len(result.run_requests) == 1
        and result.run_requests[0].run_key == f"retrain:resolved:{RETRAIN_AFTER_RESOLUTIONS}"
    )
    again = sensor(
        dg.build_sensor_context(
            cursor=result.cursor, resources={"lake": LakeResource(data_dir=str(tmp_path))}
        )
    )
    assert not again.run_requests


def test_ml_views_are_appended_and_exist_empty_before_any_file(tmp_path):
    names = [v.name for v in tables.views()]
    ml_views = [v.name for t in tables.TABLES if set(t.producers) <= ML_ASSETS for v in t.views]
    assert names[-len(ml_views) :] == ml_views
    assert {"features", "predictions"} <= set(names)
    counts = build_warehouse(tmp_path, tables.views())
    assert counts["features"] == 0 and counts["predictions"] == 0
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    columns = {r[0]: r[1] for r in con.execute("DESCRIBE features").fetchall()}
    assert columns["ts"] == "TIMESTAMP WITH TIME ZONE" and columns["whale_net_usd_24h"] == "DOUBLE"
    assert "p_yes" in {r[0] for r in con.execute("DESCRIBE predictions").fetchall()}
