"""Scoring the model against the market on the test split: baselines, breakdowns, canaries, a verdict.

The forecasters are the model and every baseline of `baselines.py` (each fitted on the training split only),
scored on the same rows. Scores: Brier with its reliability / resolution decomposition, log loss, AUC and ECE.
The model is compared with each baseline and above all with the *best* one (the lowest Brier on the scored
rows, the hardest hurdle): ΔBrier and ΔLogLoss (model − baseline) with a paired cluster-bootstrap 95% CI,
the cluster being the event (or the market). Breakdowns with the same CIs: per horizon, per category, per
price bucket. The verdict (`bootstrap.verdict`) calls a gain only when the CI lies below 0 and the gain is at
least `MIN_EFFECT_BRIER`. The leak canaries (`canaries.py`) run in every evaluation; `canaries_null` is false
when any of them beats the market, and the `model_evaluation` asset then fails.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from polymarket_assets.lib.ml.baselines import BASELINES, Baselines, market_price
from polymarket_assets.lib.ml.bootstrap import (
    MIN_EFFECT_BRIER,
    paired_delta_brier,
    paired_delta_log_loss,
    verdict,
)
from polymarket_assets.lib.ml.canaries import run_canaries
from polymarket_assets.lib.ml.metrics import brier, scores
from polymarket_assets.lib.ml.model import Model, column_array

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

FORECASTERS = ("model", *BASELINES)
PRICE_BUCKETS = ((0.0, 0.1), (0.1, 0.3), (0.3, 0.7), (0.7, 0.9), (0.9, 1.0000001))


def split_rows(table: pa.Table, name: str) -> pa.Table:
    return table.filter(pc.equal(table.column("split"), name))


def forecasts(model: Model, training_set: pa.Table, rows: pa.Table) -> dict[str, np.ndarray]:
    return {"model": model.predict(rows), **Baselines(split_rows(training_set, "train")).predict(rows)}


def best_baseline(preds: dict[str, np.ndarray], y: np.ndarray) -> str:
    return min(BASELINES, key=lambda name: (brier(preds[name][: y.size], y), name))


def compare(
    preds: dict[str, np.ndarray],
    y: np.ndarray,
    clusters: np.ndarray,
    mask: np.ndarray,
    baselines: Iterable[str],
    replicates: int,
    seed: int,
) -> dict:
    """Rows, clusters, every forecaster's scores and, per baseline, ΔBrier and ΔLogLoss with CIs."""
    out = {
        "rows": int(mask.sum()),
        "clusters": len(set(clusters[mask])),
        "yes_share": float(y[mask].mean()) if mask.any() else None,
    }
    for name, p in preds.items():
        out[name] = scores(p[mask], y[mask])
    for base in baselines:
        args = (preds["model"][mask], preds[base][mask], y[mask], clusters[mask])
        out[f"delta_brier_vs_{base}"] = paired_delta_brier(*args, replicates=replicates, seed=seed).as_dict()
        out[f"delta_log_loss_vs_{base}"] = paired_delta_log_loss(
            *args, replicates=replicates, seed=seed
        ).as_dict()
    return out


def evaluate(
    model: Model,
    training_set: pa.Table,
    split: str = "test",
    replicates: int = 2000,
    seed: int = 0,
    canaries: bool = True,
) -> dict:
    """The full evaluation (JSON-ready, except `_predictions` and `_labels`)."""
    rows = split_rows(training_set, split)
    preds = forecasts(model, training_set, rows)
    y = column_array(rows, "label")
    clusters = np.asarray(rows.column("cluster").to_pylist(), dtype=object)
    best = best_baseline(preds, y)
    everything = np.ones(rows.num_rows, dtype=bool)
    overall = compare(preds, y, clusters, everything, BASELINES, replicates, seed)
    overall["markets"] = len(set(rows.column("condition_id").to_pylist()))
    result = {
        "split": split,
        "best_baseline": best,
        "min_effect_brier": MIN_EFFECT_BRIER,
        "overall": overall,
        "vs_best": overall[f"delta_brier_vs_{best}"],
        "verdict": verdict(overall[f"delta_brier_vs_{best}"]),
        "by_horizon": {},
        "by_category": {},
        "by_price_bucket": {},
    }
    focus = tuple(dict.fromkeys(("market", best)))
    horizons = column_array(rows, "horizon_h")
    for h in sorted(set(horizons.tolist()), reverse=True):
        result["by_horizon"][f"{h:g}h"] = compare(
            preds, y, clusters, horizons == h, BASELINES, replicates, seed
        )
    categories = np.asarray([c or "(none)" for c in rows.column("category").to_pylist()], dtype=object)
    for category in sorted(set(categories.tolist())):
        block = compare(preds, y, clusters, categories == category, focus, replicates, seed)
        result["by_category"][category] = block
    price = market_price(rows)
    for lo, hi in PRICE_BUCKETS:
        mask = (price >= lo) & (price < hi)
        if mask.any():
            block = compare(preds, y, clusters, mask, focus, replicates, seed)
            result["by_price_bucket"][f"{lo:.1f}-{min(hi, 1.0):.1f}"] = block
    if canaries:
        result["canaries"] = run_canaries(training_set, split, replicates=min(replicates, 1000), seed=seed)
        result["canaries_null"] = all(c["null"] for c in result["canaries"].values())
    result["_predictions"] = preds
    result["_labels"] = y
    return result


def evaluation_rows(result: dict, version: str, evaluated_at: datetime) -> list[dict]:
    """Flat rows (one per group × forecaster) for the `model_evaluations` table."""
    rows = []
    groups = [("overall", "all", result["overall"])]
    for kind in ("by_horizon", "by_category", "by_price_bucket"):
        groups += [(kind.removeprefix("by_"), key, block) for key, block in result[kind].items()]
    for kind, key, block in groups:
        for name in FORECASTERS:
            if name not in block:
                continue
            s = block[name]
            delta = block.get(f"delta_brier_vs_{name}")
            delta_ll = block.get(f"delta_log_loss_vs_{name}")
            rows.append(
                {
                    "model_version": version,
                    "evaluated_at": evaluated_at,
                    "split": result["split"],
                    "group_kind": kind,
                    "group": key,
                    "forecaster": name,
                    "is_best_baseline": name == result["best_baseline"],
                    "rows": block["rows"],
                    "clusters": block["clusters"],
                    "brier": s["brier"],
                    "log_loss": s["log_loss"],
                    "auc": s["auc"],
                    "ece": s["ece"],
                    "reliability": s["reliability"],
                    "resolution": s["resolution"],
                    "delta_brier_model_minus_this": delta["delta"] if delta else None,
                    "delta_ci_low": delta["ci_low"] if delta else None,
                    "delta_ci_high": delta["ci_high"] if delta else None,
                    "delta_log_loss_model_minus_this": delta_ll["delta"] if delta_ll else None,
                    "delta_log_loss_ci_low": delta_ll["ci_low"] if delta_ll else None,
                    "delta_log_loss_ci_high": delta_ll["ci_high"] if delta_ll else None,
                }
            )
    return rows
