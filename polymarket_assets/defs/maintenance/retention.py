"""Retention of the Dagster instance: finished runs, their event logs and their compute logs, deleted after a
number of days through the instance API (so it works the same on SQLite and Postgres storage).

At 50k markets the platform launches thousands of runs a day; without this the event-log tables and the
compute-log directory grow without bound. Two things are never deleted: a run that is not finished, and the
run holding the latest materialization of an asset (its "last materialized" record, which declarative
automation reads). Older partitions of partitioned assets lose their Dagster materialization record with
their run; the lake (and the `coverage` asset computed from it) stays the record of what was collected.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import dagster as dg
from dagster._core.storage.local_compute_log_manager import LocalComputeLogManager

FINISHED_OK = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.CANCELED]
FINISHED_FAILED = [dg.DagsterRunStatus.FAILURE]
BATCH = 500


@dataclass
class RetentionReport:
    runs_deleted: int = 0
    failed_runs_deleted: int = 0
    runs_protected: int = 0
    compute_log_dirs_deleted: int = 0
    capped: bool = False
    deleted_run_ids: list[str] = field(default_factory=list)


def _protected_run_ids(instance: dg.DagsterInstance) -> set[str]:
    """Runs holding the latest materialization of some asset."""
    keys = instance.get_asset_keys()
    latest = instance.get_latest_materialization_events(keys) if keys else {}
    return {entry.run_id for entry in latest.values() if entry is not None}


def prune_runs(
    instance: dg.DagsterInstance,
    now: datetime,
    *,
    keep_days: float = 14,
    keep_failed_days: float = 60,
    max_runs: int = 100_000,
) -> RetentionReport:
    """Delete finished runs last updated more than `keep_days` ago (failed runs: `keep_failed_days`), each
    with its event log and compute logs. At most `max_runs` per call (a first pass over a long backlog is
    split over several ticks; `capped` says so)."""
    report = RetentionReport()
    protected = _protected_run_ids(instance)
    for statuses, days, failed in (
        (FINISHED_OK, keep_days, False),
        (FINISHED_FAILED, keep_failed_days, True),
    ):
        cutoff = (now - timedelta(days=days)).astimezone(UTC)
        cursor = None
        while True:
            records = instance.get_run_records(
                dg.RunsFilter(statuses=statuses, updated_before=cutoff),
                limit=BATCH,
                cursor=cursor,
                ascending=True,
            )
            if not records:
                break
            cursor = records[-1].dagster_run.run_id
            for record in records:
                run_id = record.dagster_run.run_id
                if run_id in protected:
                    report.runs_protected += 1
                    continue
                if report.runs_deleted + report.failed_runs_deleted >= max_runs:
                    report.capped = True
                    return report
                instance.delete_run(run_id)
                instance.compute_log_manager.delete_logs(prefix=[run_id])
                report.deleted_run_ids.append(run_id)
                if failed:
                    report.failed_runs_deleted += 1
                else:
                    report.runs_deleted += 1
    return report


def prune_orphan_compute_logs(instance: dg.DagsterInstance, now: datetime, *, keep_days: float = 14) -> int:
    """Delete local compute-log directories of runs the instance no longer has, untouched for `keep_days`
    (left by runs deleted another way, or by a crash between deleting a run and its logs). Other compute-log
    managers keep their logs per run, which `prune_runs` deletes with the run."""
    manager = instance.compute_log_manager
    if not isinstance(manager, LocalComputeLogManager):
        return 0
    base = manager._base_dir  # the manager's own root; no public accessor in 1.13
    if not os.path.isdir(base):
        return 0
    cutoff = (now - timedelta(days=keep_days)).timestamp()
    deleted = 0
    with os.scandir(base) as entries:
        candidates = [
            e
            for e in entries
            if e.is_dir(follow_symlinks=False) and e.stat(follow_symlinks=False).st_mtime < cutoff
        ]
    for entry in candidates:
        if instance.get_run_record_by_id(entry.name) is not None:
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        deleted += 1
    return deleted
