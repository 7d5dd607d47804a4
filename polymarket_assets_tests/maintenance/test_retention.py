"""`dagster_retention_job` on a real (SQLite, on-disk) instance with runs backdated through its storage:
old finished runs go with their event logs and compute logs, recent and protected runs stay."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest
from dagster._core.storage.compute_log_manager import ComputeIOType
from dagster._core.storage.runs.schema import RunsTable

from polymarket_assets.defs.maintenance.jobs import dagster_retention_job
from polymarket_assets.defs.resources import ClockResource

NOW = datetime.now(UTC)


@dg.op
def fine() -> None:
    print("a line for the compute log")


@dg.op
def broken() -> None:
    raise RuntimeError("this run fails")


@dg.job
def ok_job() -> None:
    fine()


@dg.job
def failing_job() -> None:
    broken()


@dg.asset
def tiny_asset() -> None:
    """Materialized once, long ago: the run holding its latest materialization must survive."""


@pytest.fixture
def instance(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with dg.instance_for_test(temp_dir=str(home)) as inst:
        yield inst


def _backdate(instance: dg.DagsterInstance, run_id: str, days: float) -> None:
    when = (NOW - timedelta(days=days)).replace(tzinfo=None)
    with instance.run_storage.connect() as conn:
        conn.execute(
            RunsTable.update()
            .where(RunsTable.c.run_id == run_id)
            .values(create_timestamp=when, update_timestamp=when)
        )


def _run(instance, job, days: float) -> str:
    result = job.execute_in_process(instance=instance, raise_on_error=False)
    _backdate(instance, result.run_id, days)
    with instance.compute_log_manager.open_log_stream(
        [result.run_id, "compute_logs", "step"], ComputeIOType.STDOUT
    ) as stream:
        stream.write("captured output\n")
    return result.run_id


def _log_dir(instance, run_id: str) -> str:
    return os.path.join(instance.compute_log_manager._base_dir, run_id)


def test_retention_deletes_old_runs_event_logs_and_compute_logs_and_keeps_the_rest(instance):
    runs = {
        "ok_20d": _run(instance, ok_job, 20),
        "ok_5d": _run(instance, ok_job, 5),
        "failed_30d": _run(instance, failing_job, 30),
        "failed_70d": _run(instance, failing_job, 70),
    }
    materialized = dg.materialize([tiny_asset], instance=instance)
    _backdate(instance, materialized.run_id, 40)
    runs["latest_materialization_40d"] = materialized.run_id
    orphan = _log_dir(instance, "0" * 8 + "-dead-run-gone")
    os.makedirs(orphan)
    old = time.time() - 30 * 86400
    os.utime(orphan, (old, old))
    for run_id in runs.values():
        assert instance.all_logs(run_id), "every run starts with an event log"
    assert os.path.isdir(_log_dir(instance, runs["ok_20d"]))

    result = dagster_retention_job.execute_in_process(
        instance=instance, resources={"clock": ClockResource(source="system")}
    )
    assert result.success
    gone = {name for name, run_id in runs.items() if instance.get_run_by_id(run_id) is None}
    assert gone == {"ok_20d", "failed_70d"}
    for name in gone:
        assert instance.all_logs(runs[name]) == [], f"{name}: its event log must go with it"
        assert not os.path.exists(_log_dir(instance, runs[name])), f"{name}: its compute logs must go with it"
    for name in set(runs) - gone:
        assert instance.all_logs(runs[name]), name
    assert os.path.isdir(_log_dir(instance, runs["ok_5d"]))
    assert not os.path.exists(orphan)
    assert instance.get_latest_materialization_event(tiny_asset.key) is not None
    [output] = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    metadata = output.event_specific_data.metadata
    assert metadata["runs_deleted"].value == 1 and metadata["failed_runs_deleted"].value == 1
    assert metadata["runs_protected"].value == 1 and metadata["orphan_compute_log_dirs_deleted"].value == 1


def test_retention_days_are_configurable(instance):
    recent = _run(instance, ok_job, 3)
    config = {"ops": {"prune_dagster_runs": {"config": {"keep_days": 2, "keep_failed_days": 60}}}}
    assert dagster_retention_job.execute_in_process(
        instance=instance, run_config=config, resources={"clock": ClockResource(source="system")}
    ).success
    assert instance.get_run_by_id(recent) is None
