"""`dagster_retention_job`: deletes old runs, their event logs and compute logs (see `retention.py`)."""

import dagster as dg

from polymarket_assets.defs.maintenance.retention import prune_orphan_compute_logs, prune_runs
from polymarket_assets.defs.resources import ClockResource


class RunRetentionConfig(dg.Config):
    keep_days: float = 14
    """Finished runs (success, canceled) last updated more than this many days ago are deleted."""
    keep_failed_days: float = 60
    """Failed runs are kept longer, for post-mortems."""
    max_runs: int = 100_000
    """At most this many runs per execution; the next one continues."""


@dg.op
def prune_dagster_runs(context: dg.OpExecutionContext, config: RunRetentionConfig, clock: ClockResource) -> dg.Output[int]:
    """Delete finished runs older than the retention, with their event logs and compute logs."""
    now = clock.clock().now()
    report = prune_runs(context.instance, now, keep_days=config.keep_days, keep_failed_days=config.keep_failed_days,
                        max_runs=config.max_runs)
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
