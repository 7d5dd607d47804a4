"""`whale_events` for each finished hour. (The recorder's health checks run with `incoming_files_sensor`.)"""

from datetime import UTC, timedelta

import dagster as dg

from polymarket_assets.defs.partitions import hourly_partitions

whale_events_job = dg.define_asset_job(
    "whale_events_job", selection=["whale_events"], tags={"domain": "trades"}
)


@dg.schedule(
    name="whale_events_schedule",
    cron_schedule="10 * * * *",
    job=whale_events_job,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="At :10, the previous hour: it has ended, and the 5 minutes after it (for price impact) are in.",
)
def whale_events_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    tick = context.scheduled_execution_time.astimezone(UTC)
    hour = tick.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    key = hourly_partitions.get_partition_key_for_timestamp(hour.timestamp())
    return dg.RunRequest(run_key=f"whale_events:{key}", partition_key=key)
