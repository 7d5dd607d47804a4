"""Discovery runs hourly by default, at the start of each hour, for that hour's partition."""

import dagster as dg

from polymarket_assets.defs.partitions import hourly_partitions

markets_job = dg.define_asset_job("markets_job", selection=["markets"], executor_def=dg.in_process_executor)


@dg.schedule(
    cron_schedule="0 * * * *",
    job=markets_job,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def markets_schedule(context: dg.ScheduleEvaluationContext):
    """Discovers every open market once an hour (edit the cron to discover more often)."""
    key = hourly_partitions.get_partition_key_for_timestamp(context.scheduled_execution_time.timestamp())
    return dg.RunRequest(run_key=f"markets:{key}", partition_key=key)
