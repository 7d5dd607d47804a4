"""When maintenance runs: compaction every hour, Dagster retention once a day."""

import dagster as dg

from polymarket_assets.defs.maintenance.jobs import dagster_retention_job, lake_compaction_job

lake_compaction_schedule = dg.ScheduleDefinition(
    name="lake_compaction_schedule",
    job=lake_compaction_job,
    cron_schedule="35 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="At :35, every hour closed for `min_age_hours` (default 2) within `lookback_hours` (default 48).",
)

dagster_retention_schedule = dg.ScheduleDefinition(
    name="dagster_retention_schedule",
    job=dagster_retention_job,
    cron_schedule="17 4 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Daily: finished runs older than 14 days (failed: 60), their event logs and compute logs.",
)
