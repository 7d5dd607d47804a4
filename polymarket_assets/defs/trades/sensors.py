"""`incoming_files_sensor`: turns the closed files ws_sidecar writes into ingestion runs.

Cheap by construction: it lists the newest day directories of `incoming/<kind>/` and reads names and sizes,
nothing else. Its cursor is a file-key floor plus the keys above it (file identities); each run request names
its files and has a run key derived from them, so the same files never make two runs. Files are batched by
the window of their key (`PM_INGEST_BATCH_S`, default 300 s), so each hour gets about one run per window.

It never raises on what it finds in `incoming/`: a file whose name cannot be real (an impossible hour, a key or
hour more than a day ahead, an hour before the first partition) and a symlink posing as an incoming file are
moved to `quarantine/incoming_files/` with a quarantine row (`source=ws_ingest`) and an error in the tick's log.
The cursor never covers a file that was not handed to a run, and never moves past the sensor's own clock.
"""

import time
from datetime import UTC, datetime

import dagster as dg

from polymarket_assets.defs.partitions import hourly_partitions
from polymarket_assets.defs.resources import LakeResource
from polymarket_assets.defs.trades.checks import health_check_keys
from polymarket_assets.lib import incoming
from polymarket_assets.lib.trades.ingest import QUARANTINE_SOURCE, quarantine_file
from polymarket_assets.lib.trades.plan import (
    ASSET_FOR_KIND,
    HEALTH_WINDOW_S,
    SensorCursor,
    batch_window_s,
    plan_runs,
)

# 20 s between ticks: with 10 s files, a trade reaches the `trades` view in well under a minute.
SENSOR_INTERVAL_S = 20

# The in-asset check of `trades`; the health checks on these assets run on their own schedule, so every
# request names its checks explicitly (a request without them would run every check of its assets).
INGEST_CHECKS = {"trades": [dg.AssetCheckKey(dg.AssetKey("trades"), "trades_unique_and_priced")]}

ws_ingest_job = dg.define_asset_job(
    "ws_ingest_job",
    selection=dg.AssetSelection.assets(*sorted(set(ASSET_FOR_KIND.values()))).without_checks()
    | dg.AssetSelection.checks(*INGEST_CHECKS["trades"], *health_check_keys()),
    tags={"domain": "trades"},
    description="Takes the recorder's closed incoming files of one hour into the lake (and, once per health "
    "window, runs the recorder's health checks).",
)

# The same checks alone, for a window in which no file arrived (the recorder down is exactly when they matter).
ws_health_job = dg.define_asset_job(
    "ws_health_job",
    selection=dg.AssetSelection.checks(*health_check_keys()),
    tags={"domain": "trades"},
    description="Freshness of trades and incoming files, gap minutes per hour, the recorder's status file.",
)


@dg.sensor(
    name="incoming_files_sensor",
    jobs=[ws_ingest_job, ws_health_job],
    minimum_interval_seconds=SENSOR_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Ingestion runs for the new closed files in data/incoming/ (written by ws_sidecar): one per hour "
    "and batching window; the recorder's health checks ride along once per 5 minutes (alone when no file came).",
)
def incoming_files_sensor(context: dg.SensorEvaluationContext, lake: LakeResource) -> dg.SensorResult:
    now_ms = time.time_ns() // 1_000_000
    cursor = SensorCursor.parse(context.cursor)
    if cursor.in_future(now_ms):
        context.log.error(f"cursor floor {cursor.floor} is ahead of the clock; listing every day again")
        cursor = SensorCursor()
    odd: list = []
    listed = list(incoming.list_incoming(lake.data_dir, min_day=cursor.min_day(), odd=odd))
    plan = plan_runs(
        listed, cursor, hourly_partitions.has_partition_key, now_ms=now_ms, batch_ms=batch_window_s() * 1000
    )
    root = incoming.incoming_root(lake.data_dir)
    _quarantine_hostile(
        context,
        lake,
        [(f.path, f.relpath, reason) for f, reason in plan.rejected]
        + [(path, path.relative_to(root).as_posix(), reason) for path, reason in odd],
    )
    health_window = now_ms - now_ms % (HEALTH_WINDOW_S * 1000)
    health_due = plan.cursor.health_ms < health_window
    requests = []
    for i, run in enumerate(plan.runs):
        with_health = health_due and i == len(plan.runs) - 1  # the newest partition's run
        requests.append(
            dg.RunRequest(
                job_name=ws_ingest_job.name,
                run_key=run.run_key,
                partition_key=run.partition_key,
                asset_selection=[dg.AssetKey(a) for a in run.assets],
                asset_check_keys=[key for a in run.assets for key in INGEST_CHECKS.get(a, [])]
                + (health_check_keys() if with_health else []),
                run_config=run.run_config(),
                tags={"ws/files": str(len(run.files)), **({"ws/health": "true"} if with_health else {})},
            )
        )
    if health_due and not requests:
        requests.append(
            dg.RunRequest(
                job_name=ws_health_job.name, run_key=f"ws_health:{health_window}", tags={"ws/health": "true"}
            )
        )
    if health_due:
        plan.cursor.health_ms = health_window
    next_cursor = plan.cursor.dumps()
    if not requests and next_cursor == (context.cursor or ""):
        return dg.SensorResult(
            skip_reason=f"no new files to hand over among {len(listed)} listed ({len(plan.waiting)} waiting for their batch)"
        )
    return dg.SensorResult(run_requests=requests, cursor=next_cursor)


def _quarantine_hostile(context: dg.SensorEvaluationContext, lake: LakeResource, entries: list) -> None:
    """Move each hostile entry out of incoming/ with a quarantine row; a failure is logged, never raised."""
    if not entries:
        return
    quarantine = lake.quarantine(QUARANTINE_SOURCE)
    for path, relpath, reason in entries:
        try:
            moved = quarantine_file(lake.data_dir, path, relpath, reason, quarantine)
        except OSError as exc:
            moved = None
            context.log.error(f"could not quarantine {relpath}: {exc}")
        context.log.error(
            f"incoming file {relpath} is not ingestible ({reason}); "
            + (f"moved to {moved}" if moved else "left in place")
        )
    try:
        quarantine.flush(datetime.now(UTC))
    except OSError as exc:
        context.log.error(f"could not write the quarantine rows of {len(entries)} incoming entries: {exc}")
