"""Rebuilds the warehouse and materializes `collection_health` every ten minutes, on by default.

One run does both: at 50k markets the slot runs alone are about 4,700 launches a day, and the budget for all runs
is 5,500 (benchmarks/ingest_bench.py), so the two ten-minute jobs share their launch. `collection_health` then
reports the age of the previous rebuild, which stays under its threshold while the rebuilds succeed."""

import dagster as dg

from polymarket_assets.defs.health.assets import CADENCE_MINUTES

collection_health_job = dg.define_asset_job(
    "collection_health_job", selection=["warehouse", "collection_health"], executor_def=dg.in_process_executor
)

collection_health_schedule = dg.ScheduleDefinition(
    name="collection_health_schedule",
    job=collection_health_job,
    cron_schedule=f"*/{CADENCE_MINUTES} * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Rebuilds the warehouse and answers 'is collection healthy right now?' (collection_health and its checks).",
)
