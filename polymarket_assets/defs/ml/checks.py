"""The gate before training: a blocking check on `training_set`. When it fails, `xgb_model` (and everything
after it) does not run in the same run, so a broken training set never produces a model."""

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc

from polymarket_assets.defs.resources import LakeResource
from polymarket_assets.lib.ml import pipeline
from polymarket_assets.lib.ml.dataset import PURGED, SPLITS
from polymarket_assets.lib.schemas import FEATURE_COLUMNS


class TrainingSetReadyConfig(dg.Config):
    min_rows: int = 100
    min_markets_per_split: int = 10
    allow_all_null: list[str] = []  # noqa: RUF012 - pydantic copies field defaults
    """Features the data cannot support and that may be all-null (e.g. 1 h momentum on hourly-only history)."""


def readiness(
    table: pa.Table, min_rows: int, min_markets_per_split: int, allow_all_null: tuple[str, ...] = ()
) -> tuple[bool, dict]:
    """Whether a training set may be trained on, and why not."""
    problems = []
    if table.num_rows < min_rows:
        problems.append(f"{table.num_rows} rows < {min_rows}")
    null_labels = table.column("label").null_count if table.num_rows else 0
    if null_labels:
        problems.append(f"{null_labels} null labels")
    per_split = {}
    for name in SPLITS:
        part = pipeline.split(table, name)
        labels = set(part.column("label").to_pylist())
        markets = len(set(part.column("condition_id").to_pylist()))
        per_split[name] = {
            "rows": part.num_rows,
            "markets": markets,
            "classes": sorted(x for x in labels if x is not None),
        }
        if markets < min_markets_per_split:
            problems.append(f"{name}: {markets} markets < {min_markets_per_split}")
        if not {0, 1} <= labels:
            problems.append(f"{name}: labels {sorted(x for x in labels if x is not None)} lack a class")
    all_null = [
        c
        for c in FEATURE_COLUMNS
        if c not in allow_all_null and table.num_rows and table.column(c).null_count == table.num_rows
    ]
    if all_null:
        problems.append(f"all-null feature columns: {all_null}")
    overlap = _markets_in_two_splits(table)
    if overlap:
        problems.append(f"{overlap} markets or events in two splits")
    problems.extend(label_leaks(table))
    return not problems, {"problems": problems, "per_split": per_split, "all_null_features": all_null}


def label_leaks(table: pa.Table) -> list[str]:
    """Every label the model is fitted on (train) or early-stopped on (validation) must have resolved before
    the first instant it is scored at: train before validation's first row, both before test's first row."""
    first_row = {}
    last_label = {}
    for name in SPLITS:
        part = pipeline.split(table, name)
        if part.num_rows:
            first_row[name] = pc.min(part.column("ts")).as_py()
            last_label[name] = pc.max(part.column("label_ts")).as_py()
    problems = []
    for fitted, scored in (("train", "validation"), ("train", "test"), ("validation", "test")):
        if fitted in last_label and scored in first_row and last_label[fitted] >= first_row[scored]:
            problems.append(
                f"{fitted} label resolved at {last_label[fitted].isoformat()}, not before the first {scored} "
                f"row at {first_row[scored].isoformat()}"
            )
    return problems


def _markets_in_two_splits(table: pa.Table) -> int:
    seen: dict[str, str] = {}
    bad = set()
    for key in ("condition_id", "cluster"):
        seen.clear()
        for value, split in zip(table.column(key).to_pylist(), table.column("split").to_pylist()):
            if split != PURGED and seen.setdefault(value, split) != split:
                bad.add(value)
    return len(bad)


@dg.asset_check(
    asset="training_set",
    blocking=True,
    description="Minimum size, both classes in every split, no null labels, no all-null feature columns, "
    "no market or event in two splits, and every train/validation label resolved before the first row it is "
    "scored against.",
)
def training_set_ready(config: TrainingSetReadyConfig, lake: LakeResource) -> dg.AssetCheckResult:
    table = pipeline.read_training_set(lake.data_dir)
    passed, detail = readiness(
        table, config.min_rows, config.min_markets_per_split, tuple(config.allow_all_null)
    )
    yes_share = float(pc.mean(table.column("label")).as_py() or 0.0) if table.num_rows else None
    return dg.AssetCheckResult(
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "rows": table.num_rows,
            "yes_share": yes_share,
            "problems": dg.MetadataValue.json(detail["problems"]),
            "per_split": dg.MetadataValue.json(detail["per_split"]),
        },
    )
