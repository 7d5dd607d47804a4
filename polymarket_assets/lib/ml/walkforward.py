"""Walk-forward evaluation: rolling-origin folds over the training set's history, each with its own fit.

The origins t_k are row instants: the first after `initial_fraction` of the rows (which only ever train),
then evenly through the rest. Fold k scores the clusters resolved in [t_k, t_k+1) on their rows at or after
t_k, and trains (and early-stops) on the clusters resolved before t_k - embargo, split by the training set's
own rules (`dataset.cut_instant`, `dataset.assign_splits`), so the purge holds in every fold. A cluster is
in one fold's test window only, so the folds' predictions pool into one ΔBrier with a cluster-bootstrap CI
over all of them.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from polymarket_assets.lib.ml import model as model_lib
from polymarket_assets.lib.ml.baselines import BASELINES, Baselines
from polymarket_assets.lib.ml.bootstrap import paired_delta_brier, verdict
from polymarket_assets.lib.ml.dataset import (
    DEFAULT_EMBARGO_H,
    assign_splits,
    cluster_label_times,
    cut_instant,
)
from polymarket_assets.lib.ml.metrics import brier
from polymarket_assets.lib.ml.model import column_array


def _with_splits(table: pa.Table, splits: list[str | None]) -> pa.Table:
    index = table.schema.get_field_index("split")
    return table.set_column(index, "split", pa.array(splits, pa.string()))


def _part(table: pa.Table, name: str) -> pa.Table:
    return table.filter(pc.equal(table.column("split"), name))


def _usable(part: pa.Table) -> bool:
    return part.num_rows > 0 and len(set(part.column("label").to_pylist())) == 2


def walk_forward(
    training_set: pa.Table,
    folds: int = 3,
    initial_fraction: float = 0.5,
    validation_fraction: float = 0.25,
    embargo_h: float = DEFAULT_EMBARGO_H,
    replicates: int = 2000,
    seed: int = 0,
    train_kwargs: dict | None = None,
) -> dict:
    """Per fold: window, rows, Brier of the model and the market, ΔBrier vs the market; pooled: ΔBrier CIs
    against the market and the best baseline, and the verdict against the best."""
    table = training_set.filter(pc.is_valid(training_set.column("label_ts")))
    if table.num_rows == 0:
        return {"folds": [], "pooled": None}
    label_time = cluster_label_times(table)
    embargo = timedelta(hours=embargo_h)
    ts = table.column("ts").to_pylist()
    resolved = [label_time[c] for c in table.column("cluster").to_pylist()]
    # Origins at row instants: the first after `initial_fraction` of the rows, then evenly through the rest.
    instants = sorted(ts)
    shares = [initial_fraction + k * (1.0 - initial_fraction) / folds for k in range(folds)]
    origins = sorted({instants[min(len(instants) - 1, int(share * len(instants)))] for share in shares})
    ends = [*origins[1:], None]
    fold_results, pooled = [], {"y": [], "clusters": [], "model": [], **{b: [] for b in BASELINES}}
    for k, (t_test, t_end) in enumerate(zip(origins, ends)):
        t_val = cut_instant(ts, resolved, validation_fraction, embargo, t_test)
        splits, boundaries, _ = assign_splits(table, label_time, t_val, t_test, t_end, embargo)
        fold = _with_splits(table, splits)
        train, validation, test = (_part(fold, s) for s in ("train", "validation", "test"))
        if not (_usable(train) and _usable(validation) and test.num_rows):
            fold_results.append({"fold": k, "skipped": "a split lacks rows or a class", **boundaries})
            continue
        model = model_lib.train(train, validation, **(train_kwargs or {}))
        preds = {"model": model.predict(test), **Baselines(train).predict(test)}
        y = column_array(test, "label")
        clusters = test.column("cluster").to_pylist()
        delta = paired_delta_brier(preds["model"], preds["market"], y, clusters, replicates, seed).as_dict()
        fold_results.append(
            {
                "fold": k,
                **boundaries,
                "rows_train": train.num_rows,
                "rows_test": test.num_rows,
                "clusters_test": len(set(clusters)),
                "best_iteration": model.best_iteration,
                "brier_model": brier(preds["model"], y),
                "brier_market": brier(preds["market"], y),
                "delta_brier_vs_market": delta,
            }
        )
        pooled["y"].append(y)
        pooled["clusters"] += clusters
        for name in ("model", *BASELINES):
            pooled[name].append(preds[name])
    if not pooled["y"]:
        return {"folds": fold_results, "pooled": None}
    y = np.concatenate(pooled["y"])
    preds = {name: np.concatenate(pooled[name]) for name in ("model", *BASELINES)}
    best = min(BASELINES, key=lambda name: (brier(preds[name], y), name))
    vs = {
        base: paired_delta_brier(
            preds["model"], preds[base], y, pooled["clusters"], replicates, seed
        ).as_dict()
        for base in dict.fromkeys(("market", best))
    }
    return {
        "folds": fold_results,
        "pooled": {
            "rows": int(y.size),
            "clusters": len(set(pooled["clusters"])),
            "folds_scored": len(pooled["y"]),
            "brier_model": brier(preds["model"], y),
            "brier": {name: brier(preds[name], y) for name in BASELINES},
            "best_baseline": best,
            "delta_brier_vs_market": vs["market"],
            "delta_brier_vs_best": vs[best],
            "verdict": verdict(vs[best]),
        },
    }
