"""Maintenance jobs: `dagster_retention_job` deletes old runs, their event logs and compute logs
(`retention.py`); `lake_compaction_job` merges the files of closed hours into one per partition
(`lib/compaction.py`)."""

import contextlib
from datetime import timedelta

import dagster as dg
import pyarrow.fs as pafs
from pydantic import Field

from polymarket_assets.defs.maintenance.retention import prune_orphan_compute_logs, prune_runs
from polymarket_assets.defs.resources import ClockResource, LakeResource
from polymarket_assets.lib.compaction import closed_partitions, compact_partition, visible_files
from polymarket_assets.lib.parquet_store import DataLocation
from polymarket_assets.lib.trades.ingest import partition_lock


class RunRetentionConfig(dg.Config):
    keep_days: float = 14
    """Finished runs (success, canceled) last updated more than this many days ago are deleted."""
    keep_failed_days: float = 60
    """Failed runs are kept longer, for post-mortems."""
    max_runs: int = 100_000
    """At most this many runs per execution; the next one continues."""


@dg.op
def prune_dagster_runs(
    context: dg.OpExecutionContext, config: RunRetentionConfig, clock: ClockResource
) -> dg.Output[int]:
    """Delete finished runs older than the retention, with their event logs and compute logs."""
    now = clock.clock().now()
    report = prune_runs(
        context.instance,
        now,
        keep_days=config.keep_days,
        keep_failed_days=config.keep_failed_days,
        max_runs=config.max_runs,
    )
    orphans = prune_orphan_compute_logs(context.instance, now, keep_days=config.keep_days)
    if report.capped:
        context.log.warning(f"stopped after {config.max_runs} runs; the next execution deletes the rest")
    deleted = report.runs_deleted + report.failed_runs_deleted
    return dg.Output(
        deleted,
        metadata={
            "runs_deleted": report.runs_deleted,
            "failed_runs_deleted": report.failed_runs_deleted,
            "runs_protected": report.runs_protected,
            "orphan_compute_log_dirs_deleted": orphans,
            "capped": report.capped,
            "keep_days": config.keep_days,
            "keep_failed_days": config.keep_failed_days,
        },
    )


@dg.job(tags={"domain": "maintenance"})
def dagster_retention_job() -> None:
    """Keeps the Dagster instance's run and event-log storage and compute logs to a bounded window."""
    prune_dagster_runs()


# Writers that link files into these directories take this partition lock (see the ingestion assets).
WRITER_LOCKS = {
    "lake/book_updates": "book_updates",
    "raw/ws_market": "ws_raw_frames",
    "lake/trades": "trades",
    "lake/ws_gaps": "ws_gaps",
    "lake/market_events": "market_events",
}
COMPACTED_ROOTS = ("lake", "raw")


class LakeCompactionConfig(dg.Config):
    min_age_hours: float = 2
    """An hour is compacted once its end is this far in the past (late files and re-runs have landed)."""
    lookback_hours: int = 48
    """How far back each run looks; raise it once to compact an existing history."""
    tables: list[str] = Field(default_factory=list)
    """Table directories relative to the data dir (`lake/book_updates`, `raw/ws_market`); empty = all of
    `lake/` and `raw/`."""


def _tables(location: DataLocation, configured: list[str]) -> list[str]:
    if configured:
        return configured
    found = []
    for root in COMPACTED_ROOTS:
        infos = location.fs.get_file_info(pafs.FileSelector(location.path(root), allow_not_found=True))
        found += [
            f"{root}/{i.base_name}"
            for i in infos
            if i.type == pafs.FileType.Directory and not i.base_name.startswith(".")
        ]
    return sorted(found)


@dg.op
def compact_closed_hours(
    context: dg.OpExecutionContext, config: LakeCompactionConfig, lake: LakeResource, clock: ClockResource
) -> dg.Output[int]:
    """Merge the files of every closed hourly partition of the lake and the raw archive into one file."""
    now = clock.clock().now()
    end = (now - timedelta(hours=config.min_age_hours)).replace(
        minute=0, second=0, microsecond=0
    ) - timedelta(hours=1)
    start = end - timedelta(hours=config.lookback_hours)
    location = DataLocation(lake.data_dir)
    totals = {
        "partitions_compacted": 0,
        "files_before": 0,
        "rows": 0,
        "bytes_before": 0,
        "bytes_after": 0,
        "swaps_not_atomic": 0,
    }
    max_after = 0
    for table in _tables(location, config.tables):
        for partition in closed_partitions(location, table, start, end + timedelta(hours=1)):
            lock_name = WRITER_LOCKS.get(table)
            guard = (
                partition_lock(lake.data_dir, lock_name, partition.partition_key)
                if lock_name and location.is_local
                else contextlib.nullcontext()
            )
            with guard:
                result = compact_partition(location, partition.path)
                remaining = len(visible_files(location, partition.path))
            max_after = max(max_after, remaining)
            if result is None:
                continue
            totals["partitions_compacted"] += 1
            totals["files_before"] += result.members
            totals["rows"] += result.rows
            totals["bytes_before"] += result.bytes_before
            totals["bytes_after"] += result.bytes_after
            totals["swaps_not_atomic"] += 0 if result.atomic else 1
    context.log.info(
        f"compacted {totals['partitions_compacted']} partitions of hours {start.isoformat()} .. {end.isoformat()}"
    )
    return dg.Output(
        totals["partitions_compacted"],
        metadata={
            **totals,
            "max_files_per_partition_after": max_after,
            "window_start": start.isoformat(),
            "window_end": end.isoformat(),
        },
    )


@dg.job(tags={"domain": "maintenance"})
def lake_compaction_job() -> None:
    """One file per table-hour in the lake and the raw archive once the hour is closed."""
    compact_closed_hours()
