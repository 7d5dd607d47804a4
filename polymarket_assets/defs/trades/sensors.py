"""`incoming_files_sensor`: turns the closed files ws_sidecar writes into ingestion runs.

Cheap by construction: it lists the newest day directories of `incoming/<kind>/` and reads names and sizes,
nothing else. Its cursor is a file-key floor plus the keys above it (file identities, never the wall clock);
each run request names its files and has a run key derived from them, so the same files never make two runs.
"""

import dagster as dg

from polymarket_assets.defs.partitions import hourly_partitions
from polymarket_assets.defs.resources import LakeResource
from polymarket_assets.defs.trades.ingest import ASSET_FOR_KIND, SensorCursor, plan_runs
from ws_sidecar import files

# 20 s between ticks: with 10 s files, a trade reaches the `trades` view in well under a minute.
SENSOR_INTERVAL_S = 20

# The in-asset check of `trades`; the health checks on these assets run on their own schedule, so every
# request names its checks explicitly (a request without them would run every check of its assets).
INGEST_CHECKS = {"trades": [dg.AssetCheckKey(dg.AssetKey("trades"), "trades_unique_and_priced")]}

ws_ingest_job = dg.define_asset_job(
    "ws_ingest_job",
    selection=dg.AssetSelection.assets(*sorted(set(ASSET_FOR_KIND.values()))).without_checks()
    | dg.AssetSelection.checks(*INGEST_CHECKS["trades"]),
    tags={"domain": "trades"},
    description="Takes the recorder's closed incoming files of one hour into the lake.",
)


@dg.sensor(
    name="incoming_files_sensor",
    job=ws_ingest_job,
    minimum_interval_seconds=SENSOR_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="One ingestion run per hour of new closed files in data/incoming/ (written by ws_sidecar).",
)
def incoming_files_sensor(context: dg.SensorEvaluationContext, lake: LakeResource) -> dg.SensorResult:
    cursor = SensorCursor.parse(context.cursor)
    listed = list(files.list_incoming(lake.data_dir, min_day=cursor.min_day()))
    runs, skipped, next_cursor = plan_runs(listed, cursor, hourly_partitions.has_partition_key)
    if skipped:
        context.log.warning(
            f"{len(skipped)} new files belong to hours outside the partition range and were not ingested "
            f"(first: {skipped[0].relpath}); materialize those partitions once they exist"
        )
    requests = [
        dg.RunRequest(
            run_key=run.run_key,
            partition_key=run.partition_key,
            asset_selection=[dg.AssetKey(a) for a in run.assets],
            asset_check_keys=[key for a in run.assets for key in INGEST_CHECKS.get(a, [])],
            run_config=run.run_config(),
            tags={"ws/files": str(len(run.files))},
        )
        for run in runs
    ]
    if not requests and next_cursor.dumps() == (context.cursor or ""):
        return dg.SensorResult(skip_reason=f"no new files among {len(listed)} listed")
    return dg.SensorResult(run_requests=requests, cursor=next_cursor.dumps())
