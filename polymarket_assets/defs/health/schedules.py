"""Materializes `collection_health` every few minutes, on by default."""

import dagster as dg

from polymarket_assets.defs.health.assets import CADENCE_MINUTES

collection_health_job = dg.define_asset_job(
    "collection_health_job", selection=["collection_health"], executor_def=dg.in_process_executor
)

collection_health_schedule = dg.ScheduleDefinition(
    name="collection_health_schedule",
    job=collection_health_job,
    cron_schedule=f"*/{CADENCE_MINUTES} * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Answers 'is collection healthy right now?' (the collection_health asset and its checks).",
)
