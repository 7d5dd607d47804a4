"""A first model in dev without anyone's help: the first-model sensor says why it waits, builds the missing
features days once enough markets have resolved, then launches training; once a model exists it stands aside."""

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from polymarket_assets.defs.ml.partitions import daily_partitions
from polymarket_assets.defs.ml.schedules import FIRST_MODEL_SETTING, ml_first_model_sensor
from polymarket_assets.defs.resources import LakeResource
from polymarket_assets.lib.parquet_store import Lake
from polymarket_assets_tests.ml.lakefixtures import resolution, write_resolutions

T = datetime(2026, 11, 20, 12, tzinfo=UTC)


def _tick(instance, data_dir):
    context = dg.build_sensor_context(
        instance=instance, resources={"lake": LakeResource(data_dir=str(data_dir))}
    )
    return ml_first_model_sensor(context)


def _resolve(data_dir, n: int, outcome="YES"):
    rows = [resolution(f"0x{i:04x}", outcome if i % 3 else "NO", T + timedelta(minutes=i)) for i in range(n)]
    rows.append(resolution("0xinvalid", "INVALID", T))  # not a label a model can learn from
    write_resolutions(Lake(data_dir), rows)


def test_too_few_resolved_markets_is_said_plainly(tmp_path, monkeypatch):
    monkeypatch.delenv(FIRST_MODEL_SETTING, raising=False)
    instance = dg.DagsterInstance.ephemeral()
    result = _tick(instance, tmp_path)
    assert isinstance(result, dg.SkipReason) and "0 markets have resolved" in result.skip_message
    _resolve(tmp_path, 12)
    result = _tick(instance, tmp_path)
    assert isinstance(result, dg.SkipReason)
    assert "12 markets have resolved" in result.skip_message and "once 60 have" in result.skip_message
    assert FIRST_MODEL_SETTING in result.skip_message


def test_enough_resolved_builds_features_then_trains_then_stands_aside(tmp_path, monkeypatch):
    monkeypatch.setenv(FIRST_MODEL_SETTING, "10")
    instance = dg.DagsterInstance.ephemeral()
    _resolve(tmp_path, 12)
    requests = _tick(instance, tmp_path)
    keys = daily_partitions.get_partition_keys()
    assert {r.job_name for r in requests} == {"features_job"} and [r.partition_key for r in requests] == keys
    for key in keys[:-1]:
        instance.report_runless_asset_event(dg.AssetMaterialization("features", partition=key))
    [last] = _tick(instance, tmp_path)
    assert last.partition_key == keys[-1]
    instance.report_runless_asset_event(dg.AssetMaterialization("features", partition=keys[-1]))
    train = _tick(instance, tmp_path)
    assert isinstance(train, dg.RunRequest) and train.job_name == "ml_training_job"
    assert train.run_key == "first-model:12"
    instance.report_runless_asset_event(dg.AssetMaterialization("xgb_model"))
    assert "a model exists" in _tick(instance, tmp_path).skip_message


def test_a_bad_setting_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv(FIRST_MODEL_SETTING, "lots")
    with pytest.raises(Exception, match=FIRST_MODEL_SETTING):
        _tick(dg.DagsterInstance.ephemeral(), tmp_path)
