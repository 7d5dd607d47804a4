"""Coverage for an hour is computed once its last slot runs have finished."""

from datetime import UTC, timedelta

import dagster as dg

from polymarket_assets.defs.partitions import hourly_partitions

coverage_job = dg.define_asset_job(
    "coverage_job", selection=["coverage"], executor_def=dg.in_process_executor
)


@dg.schedule(
    cron_schedule="20 * * * *",
    job=coverage_job,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def coverage_schedule(context: dg.ScheduleEvaluationContext):
    """Scores the previous hour at 20 past."""
    hour = context.scheduled_execution_time.astimezone(UTC).replace(
        minute=0, second=0, microsecond=0
    ) - timedelta(hours=1)
    key = hourly_partitions.get_partition_key_for_timestamp(hour.timestamp())
    return dg.RunRequest(run_key=f"coverage:{key}", partition_key=key)
