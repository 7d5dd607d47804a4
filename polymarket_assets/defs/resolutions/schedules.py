"""Pending markets are re-checked every 15 minutes until their label is final."""

import dagster as dg

from polymarket_assets.defs.partitions import hourly_partitions

resolutions_job = dg.define_asset_job(
    "resolutions_job", selection=["resolutions"], executor_def=dg.in_process_executor
)


@dg.schedule(
    cron_schedule="*/15 * * * *",
    job=resolutions_job,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def resolutions_schedule(context: dg.ScheduleEvaluationContext):
    """Each check appends its rows to the hour's partition; the `resolutions` view keeps the latest per market."""
    ts = context.scheduled_execution_time
    key = hourly_partitions.get_partition_key_for_timestamp(ts.timestamp())
    return dg.RunRequest(run_key=f"resolutions:{ts:%Y-%m-%dT%H:%M}", partition_key=key)
