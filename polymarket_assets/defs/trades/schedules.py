"""`whale_events` for each finished hour, and the recorder's health checks every five minutes."""

from datetime import UTC, timedelta

import dagster as dg

from polymarket_assets.defs.partitions import hourly_partitions
from polymarket_assets.defs.trades import checks

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


ws_health_job = dg.define_asset_job(
    "ws_health_job",
    selection=dg.AssetSelection.checks(*checks.health_check_keys()),
    tags={"domain": "trades"},
    description="Freshness of trades and incoming files, gap minutes per hour, the recorder's status file.",
)

ws_health_schedule = dg.ScheduleDefinition(
    name="ws_health_schedule",
    job=ws_health_job,
    cron_schedule="*/5 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
