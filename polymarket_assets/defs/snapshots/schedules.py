"""One schedule per tier, built on the tier's partitioned job, plus the hourly re-assembly of finished hours.

Each tick launches the run for the *next* slot, one minute ahead, so launch latency never makes the first
instant late: the run waits on the clock for each of its instants.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg

from polymarket_assets.defs.partitions import hourly_partitions
from polymarket_assets.lib.tiers import DEFAULT_PLAN, TierSpec

LEAD = timedelta(minutes=1)


def tier_cron(tier: TierSpec) -> str:
    """A cron that ticks one minute before each of the tier's slots starts (slots are whole minutes that
    divide an hour, or one hour)."""
    minutes = tier.slot_s // 60
    if tier.slot_s % 60 or not (minutes == 60 or (minutes >= 1 and 60 % minutes == 0)):
        raise ValueError(f"tier {tier.name}: slot_s must be a whole number of minutes dividing an hour")
    if minutes == 1:
        return "* * * * *"
    if minutes == 60:
        return "59 * * * *"
    return f"{minutes - 1}-59/{minutes} * * * *"


def slot_for_tick(tick: datetime) -> datetime:
    tick = tick.astimezone(UTC).replace(second=0, microsecond=0)
    return tick + LEAD


def snapshot_run_request(tier: TierSpec, tick: datetime) -> dg.RunRequest:
    slot = slot_for_tick(tick)
    name = tier.asset_name
    return dg.RunRequest(
        run_key=f"{name}:{slot:%Y-%m-%dT%H:%M}",
        partition_key=hourly_partitions.get_partition_key_for_timestamp(slot.timestamp()),
        run_config={"ops": {name: {"config": {"slot_start": slot.isoformat()}}}},
        tags={"tier": tier.name, "slot": slot.isoformat()},
    )


def build_tier_job(tier: TierSpec):
    return dg.define_asset_job(
        f"{tier.asset_name}_job",
        # The checks are left out: slot runs overlap, so a selected check would always be "In Progress". Each
        # slot run records its checks' results itself; the hourly re-assembly selects them (see assets.py).
        selection=dg.AssetSelection.assets(tier.asset_name).without_checks(),
        tags={"tier": tier.name},
        # One process per run: a slot run must reach its first instant within seconds of launch.
        executor_def=dg.in_process_executor,
    )


def build_tier_schedule(tier: TierSpec, job) -> dg.ScheduleDefinition:
    @dg.schedule(
        name=f"{tier.asset_name}_schedule",
        cron_schedule=tier_cron(tier),
        job=job,
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"Captures each {tier.slot_s} s slot of tier {tier.name}, launched {LEAD} ahead.",
    )
    def _schedule(context: dg.ScheduleEvaluationContext):
        return snapshot_run_request(tier, context.scheduled_execution_time)

    return _schedule


tier_jobs = [build_tier_job(tier) for tier in DEFAULT_PLAN.tiers]
tier_schedules = [build_tier_schedule(tier, job) for tier, job in zip(DEFAULT_PLAN.tiers, tier_jobs)]

snapshots_reassembly_job = dg.define_asset_job(
    "snapshots_reassembly_job",
    selection=list(DEFAULT_PLAN.asset_names),
    tags={"purpose": "reassembly"},
    executor_def=dg.in_process_executor,
)


@dg.schedule(
    cron_schedule="15 * * * *",
    job=snapshots_reassembly_job,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def snapshots_reassembly_schedule(context: dg.ScheduleEvaluationContext):
    """Merges the previous hour's per-instant files of every tier into one file per partition."""
    previous_hour = context.scheduled_execution_time.astimezone(UTC).replace(
        minute=0, second=0, microsecond=0
    ) - timedelta(hours=1)
    key = hourly_partitions.get_partition_key_for_timestamp(previous_hour.timestamp())
    return dg.RunRequest(run_key=f"reassembly:{key}", partition_key=key)
