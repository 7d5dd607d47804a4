"""`markets_discovery_sensor`: discovery without help, at start-up and whenever `markets_current` is stale.

`markets_schedule` discovers at each full hour. Before the first full hour of a fresh install, after a
failed discovery, or after the stack was down over :00, the snapshot tiers would sweep a missing or stale
market list; this sensor asks for a `markets` run for the current hour instead. It reads one column of one
small file (`markets_current.observed_at`) and the instance's in-progress runs, nothing else.
"""

import json
from datetime import datetime, timedelta

import dagster as dg
import pyarrow.compute as pc

from polymarket_assets.defs.markets.schedules import markets_job
from polymarket_assets.defs.partitions import hourly_partitions
from polymarket_assets.defs.resources import ClockResource, LakeResource
from polymarket_assets.lib import tables

# The schedule discovers hourly; a discovery takes about a minute. Older than this, the list is stale.
STALE_AFTER = timedelta(hours=1, minutes=10)
# A requested discovery that did not freshen the list (it failed, or is still queued) is asked for again
# only after this long, so an offline deployment gets one clear failure per interval, not a run per tick.
RETRY_AFTER = timedelta(minutes=10)
SENSOR_INTERVAL_S = 30


def last_discovery(lake: LakeResource) -> datetime | None:
    """When discovery last completed: the newest `observed_at` in `markets_current` (None: never)."""
    table = lake.lake().read(tables.MARKETS_CURRENT.name, columns=["observed_at"])
    if table is None or table.num_rows == 0:
        return None
    return pc.max(table.column("observed_at")).as_py()


def discovery_due(last: datetime | None, now: datetime, last_request: datetime | None) -> str | None:
    """Why a discovery run is due now, or None when it is not."""
    if last is not None and now - last <= STALE_AFTER:
        return None
    if (
        last_request is not None
        and now - last_request < RETRY_AFTER
        and (last is None or last < last_request)
    ):
        return None
    if last is None:
        return "no discovery yet: markets_current is empty"
    return f"markets_current is stale: last discovery {last.isoformat()} ({(now - last) / timedelta(minutes=1):.0f} min ago)"


def _discovery_in_flight(instance: dg.DagsterInstance) -> bool:
    runs = instance.get_runs(
        filters=dg.RunsFilter(
            job_name=markets_job.name,
            statuses=[
                dg.DagsterRunStatus.QUEUED,
                dg.DagsterRunStatus.NOT_STARTED,
                dg.DagsterRunStatus.STARTING,
                dg.DagsterRunStatus.STARTED,
            ],
        ),
        limit=1,
    )
    return bool(runs)


@dg.sensor(
    name="markets_discovery_sensor",
    job=markets_job,
    minimum_interval_seconds=SENSOR_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Discovers markets at start-up and whenever markets_current is empty or older than "
        f"{STALE_AFTER}, so the snapshot tiers never wait for the hourly markets_schedule."
    ),
)
def markets_discovery_sensor(
    context: dg.SensorEvaluationContext, lake: LakeResource, clock: ClockResource
) -> dg.SensorResult:
    now = clock.clock().now()
    last = last_discovery(lake)
    cursor = json.loads(context.cursor) if context.cursor else {}
    last_request = datetime.fromisoformat(cursor["requested_at"]) if cursor.get("requested_at") else None
    reason = discovery_due(last, now, last_request)
    if reason is None:
        return dg.SensorResult(
            skip_reason=f"markets_current is fresh (last discovery {last.isoformat()})"
            if last
            else "discovery requested recently"
        )
    if _discovery_in_flight(context.instance):
        return dg.SensorResult(skip_reason=f"{reason}; a markets run is already queued or running")
    key = hourly_partitions.get_partition_key_for_timestamp(now.timestamp())
    context.log.info(f"requesting discovery for {key}: {reason}")
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=f"discovery:{now:%Y-%m-%dT%H:%M:%S}",
                partition_key=key,
                tags={"discovery/reason": reason[:200]},
            )
        ],
        cursor=json.dumps({"requested_at": now.isoformat()}),
    )
