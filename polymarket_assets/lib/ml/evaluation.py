"""Scoring the model against the market on the test split, per horizon and overall.

Three forecasters on the same rows: the model, the market price itself (the mid, or the last trade when a
side is empty), and the price recalibrated by isotonic regression fitted on the training split. For each:
Brier, log loss, AUC and ECE; for the model against each baseline, ΔBrier with a paired bootstrap 95% CI
clustered by market (by event for negRisk).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from polymarket_assets.lib.ml.bootstrap import paired_delta_brier
from polymarket_assets.lib.ml.calibration import PriceCalibrator
from polymarket_assets.lib.ml.metrics import scores
from polymarket_assets.lib.ml.model import Model, column_array

BASELINES = ("market", "market_isotonic")


def split_rows(table: pa.Table, name: str) -> pa.Table:
    return table.filter(pc.equal(table.column("split"), name))


def forecasts(model: Model, training_set: pa.Table, rows: pa.Table) -> dict[str, np.ndarray]:
    train = split_rows(training_set, "train")
    calibrator = PriceCalibrator().fit(column_array(train, "price"), column_array(train, "label"))
    price = np.clip(np.nan_to_num(column_array(rows, "price"), nan=0.5), 0.0, 1.0)
    return {"model": model.predict(rows), "market": price, "market_isotonic": calibrator.predict(price)}


def evaluate(
    model: Model, training_set: pa.Table, split: str = "test", replicates: int = 2000, seed: int = 0
) -> dict:
    """{"overall": {...}, "by_horizon": {h: {...}}} with scores per forecaster and ΔBrier CIs."""
    rows = split_rows(training_set, split)
    preds = forecasts(model, training_set, rows)
    y = column_array(rows, "label")
    clusters = np.asarray(rows.column("cluster").to_pylist(), dtype=object)
    horizons = np.asarray(column_array(rows, "horizon_h"))

    def block(mask: np.ndarray) -> dict:
        out = {
            "rows": int(mask.sum()),
            "markets": len(set(np.asarray(rows.column("condition_id").to_pylist())[mask])),
            "clusters": len(set(clusters[mask])),
            "yes_share": float(y[mask].mean()) if mask.any() else None,
        }
        for name, p in preds.items():
            out[name] = scores(p[mask], y[mask])
        for base in BASELINES:
            out[f"delta_brier_vs_{base}"] = paired_delta_brier(
                preds["model"][mask],
                preds[base][mask],
                y[mask],
                clusters[mask],
                replicates=replicates,
                seed=seed,
            ).as_dict()
        return out

    result = {"split": split, "overall": block(np.ones(rows.num_rows, dtype=bool)), "by_horizon": {}}
    for h in sorted(set(horizons.tolist()), reverse=True):
        result["by_horizon"][f"{h:g}h"] = block(horizons == h)
    result["_predictions"] = {k: v for k, v in preds.items()}
    result["_labels"] = y
    return result


def evaluation_rows(result: dict, version: str, evaluated_at) -> list[dict]:
    """Flat rows (one per horizon × forecaster) for the `model_evaluations` table."""
    rows = []
    blocks = [("all", result["overall"])] + list(result["by_horizon"].items())
    for horizon, block in blocks:
        for name in ("model", *BASELINES):
            s = block[name]
            delta = block.get(f"delta_brier_vs_{name}") if name != "model" else None
            rows.append(
                {
                    "model_version": version,
                    "evaluated_at": evaluated_at,
                    "split": result["split"],
                    "horizon": horizon,
                    "forecaster": name,
                    "rows": block["rows"],
                    "clusters": block["clusters"],
                    "brier": s["brier"],
                    "log_loss": s["log_loss"],
                    "auc": s["auc"],
                    "ece": s["ece"],
                    "delta_brier_model_minus_this": delta["delta"] if delta else None,
                    "delta_ci_low": delta["ci_low"] if delta else None,
                    "delta_ci_high": delta["ci_high"] if delta else None,
                }
            )
    return rows


EVALUATION_SCHEMA = pa.schema(
    [
        ("model_version", pa.string()),
        ("evaluated_at", pa.timestamp("us", tz="UTC")),
        ("split", pa.string()),
        ("horizon", pa.string()),
        ("forecaster", pa.string()),
        ("rows", pa.int64()),
        ("clusters", pa.int64()),
        ("brier", pa.float64()),
        ("log_loss", pa.float64()),
        ("auc", pa.float64()),
        ("ece", pa.float64()),
        ("delta_brier_model_minus_this", pa.float64()),
        ("delta_ci_low", pa.float64()),
        ("delta_ci_high", pa.float64()),
    ]
)
