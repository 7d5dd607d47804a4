"""When the ML layer runs: the first model as soon as enough markets have resolved, features daily, retraining
weekly or after enough new resolutions, predictions hourly (and at once after a new model, by the assets'
automation conditions)."""

import json
import os
from datetime import UTC, timedelta

import dagster as dg

from polymarket_assets.defs.ml.partitions import daily_partitions
from polymarket_assets.defs.resources import LakeResource
from polymarket_assets.lib.ml.model import latest_version
from polymarket_assets.lib.ml.sources import RESOLUTIONS, connect, has_files, relation_sql
from polymarket_assets.lib.parquet_store import local_data_dir

RETRAIN_AFTER_RESOLUTIONS = 200
# The training gate wants 10 markets in each of three splits (60/20/20) and 100 rows: about 50 resolved markets
# with snapshots before their close. The setting overrides it (read when the sensor evaluates).
FIRST_MODEL_SETTING = "PM_ML_FIRST_MODEL_MIN_RESOLVED"
FIRST_MODEL_MIN_RESOLVED = 60

features_job = dg.define_asset_job("features_job", selection=["features"], tags={"domain": "ml"})

# The blocking check on training_set runs inside this job, so a failing gate skips the model and what follows.
ml_training_job = dg.define_asset_job(
    "ml_training_job",
    selection=["training_set", "xgb_model", "model_evaluation", "backtest", "predictions"],
    tags={"domain": "ml"},
)

predictions_job = dg.define_asset_job("predictions_job", selection=["predictions"], tags={"domain": "ml"})


@dg.schedule(
    cron_schedule="30 0 * * *",
    job=features_job,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def features_schedule(context: dg.ScheduleEvaluationContext):
    """Yesterday's partition at 00:30 UTC, once its last snapshots (and the trades recorded with them) are in."""
    day = (context.scheduled_execution_time.astimezone(UTC) - timedelta(days=1)).date()
    key = day.isoformat()
    return dg.RunRequest(run_key=f"features:{key}", partition_key=key)


@dg.schedule(
    cron_schedule="0 3 * * 1",
    job=ml_training_job,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def ml_retrain_schedule(context: dg.ScheduleEvaluationContext):
    """Weekly retraining (Monday 03:00 UTC), after Sunday's features partition was built."""
    return dg.RunRequest(run_key=f"retrain:weekly:{context.scheduled_execution_time:%Y-%m-%d}")


@dg.schedule(
    cron_schedule="5 * * * *",
    job=predictions_job,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def predictions_schedule(context: dg.ScheduleEvaluationContext, lake: LakeResource):
    """Fresh predictions every hour from the current model; skipped, with the reason, until a model exists (a
    run that could only fail would turn a healthy new deployment red)."""
    if latest_version(lake.data_dir) is None:
        return dg.SkipReason(
            "no model yet: ml_first_model_sensor trains the first one once enough markets resolved"
        )
    return dg.RunRequest(run_key=f"predictions:{context.scheduled_execution_time:%Y-%m-%dT%H}")


def resolved_market_count(data_dir: str) -> int:
    """Markets with a final YES/NO label in the lake."""
    root = local_data_dir(data_dir, "the retrain sensor") / "lake"
    if not has_files(root, RESOLUTIONS.table):
        return 0
    con = connect(memory_limit="256MB", threads=1)
    try:
        return int(
            con.execute(
                f"SELECT count(DISTINCT condition_id) FROM {relation_sql(root, RESOLUTIONS)} WHERE outcome IN ('YES', 'NO')"
            ).fetchall()[0][0]
        )
    finally:
        con.close()


def retrain_decision(resolved_now: int, cursor: str | None, threshold: int) -> tuple[bool, str]:
    """Retrain when `threshold` markets resolved since the last retrain this sensor asked for."""
    last = json.loads(cursor)["resolved"] if cursor else 0
    if resolved_now - last >= threshold:
        return True, json.dumps({"resolved": resolved_now})
    return False, cursor or json.dumps({"resolved": last})


@dg.sensor(job=ml_training_job, minimum_interval_seconds=1800, default_status=dg.DefaultSensorStatus.RUNNING)
def ml_retrain_sensor(context: dg.SensorEvaluationContext, lake: LakeResource) -> dg.SensorResult:
    """Retrains as soon as RETRAIN_AFTER_RESOLUTIONS new markets have a final YES/NO label."""
    resolved = resolved_market_count(lake.data_dir)
    fire, cursor = retrain_decision(resolved, context.cursor, RETRAIN_AFTER_RESOLUTIONS)
    requests = (
        [dg.RunRequest(run_key=f"retrain:resolved:{resolved}", tags={"resolved_markets": str(resolved)})]
        if fire
        else []
    )
    return dg.SensorResult(run_requests=requests, cursor=cursor)


def first_model_min_resolved() -> int:
    text = os.environ.get(FIRST_MODEL_SETTING, "").strip()
    try:
        return int(text) if text else FIRST_MODEL_MIN_RESOLVED
    except ValueError:
        raise ValueError(f"{FIRST_MODEL_SETTING} must be a whole number, not {text!r}") from None


@dg.sensor(
    jobs=[features_job, ml_training_job],
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def ml_first_model_sensor(context: dg.SensorEvaluationContext, lake: LakeResource):
    """Trains the first model without anyone's help: once enough markets have resolved it builds every missing
    `features` day, then launches `ml_training_job`. Until then each tick says how many have resolved and how
    many it waits for. Once a model exists, retraining belongs to `ml_retrain_sensor` and the weekly schedule."""
    if context.instance.get_latest_materialization_event(dg.AssetKey("xgb_model")) is not None:
        return dg.SkipReason("a model exists; ml_retrain_sensor and ml_retrain_schedule retrain it")
    resolved = resolved_market_count(lake.data_dir)
    needed = first_model_min_resolved()
    if resolved < needed:
        return dg.SkipReason(
            f"{resolved} markets have resolved YES or NO; the first model trains once {needed} have "
            f"({FIRST_MODEL_SETTING}). `make demo` records enough simulated history in minutes."
        )
    built = context.instance.get_materialized_partitions(dg.AssetKey("features"))
    missing = [key for key in daily_partitions.get_partition_keys() if key not in built]
    if missing:
        context.log.info(f"{resolved} markets resolved: building features for {len(missing)} days first")
        return [
            dg.RunRequest(job_name="features_job", partition_key=key, run_key=f"first-model:features:{key}")
            for key in missing
        ]
    return dg.RunRequest(
        job_name="ml_training_job",
        run_key=f"first-model:{resolved}",
        tags={"resolved_markets": str(resolved), "purpose": "first model"},
    )
