"""Leak canaries: models that must not beat the market, re-fitted in every evaluation.

- `shuffled_labels`: the full feature set, trained on labels permuted across training markets.
- `noise_feature`: a model whose only input (besides the market's log-odds and the category) is noise.
- `placebo_outcome`: a model whose only input is the outcome of the market of another cluster that resolved
  nearest in time (if the clusters miss a link between markets that resolve on the same news, it finds it).

Each is scored on the same test rows against the market price, with a cluster-bootstrap CI at
`CANARY_LEVEL`; a canary is null unless its verdict is a gain (CI below 0 and at least the minimum effect).
A canary that is not null means the evaluation itself leaks, and the evaluation fails.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from polymarket_assets.lib.ml import model as model_lib
from polymarket_assets.lib.ml.baselines import market_price
from polymarket_assets.lib.ml.bootstrap import paired_delta_brier, verdict
from polymarket_assets.lib.ml.model import column_array
from polymarket_assets.lib.schemas import FEATURE_COLUMNS

CANARIES = ("shuffled_labels", "noise_feature", "placebo_outcome")
CANARY_LEVEL = 0.99  # three canaries per evaluation: a false alarm about 1 % each
NOISE, PLACEBO = "canary_noise", "canary_placebo"


def _split(table: pa.Table, name: str) -> pa.Table:
    return table.filter(pc.equal(table.column("split"), name))


def _shuffled_labels(table: pa.Table, rng: np.random.Generator) -> pa.Table:
    """Labels permuted across markets (every row of a market gets the same borrowed label)."""
    cids = table.column("condition_id").to_pylist()
    labels = dict(zip(cids, table.column("label").to_pylist()))
    markets = sorted(labels)
    borrowed = dict(zip(markets, (labels[m] for m in rng.permutation(markets))))
    index = table.schema.get_field_index("label")
    return table.set_column(index, "label", pa.array([borrowed[c] for c in cids], pa.int64()))


def _with_noise(table: pa.Table, rng: np.random.Generator) -> pa.Table:
    return table.append_column(NOISE, pa.array(rng.standard_normal(table.num_rows)))


def _with_placebo(table: pa.Table) -> pa.Table:
    """Each market gets the label of the market of another cluster that resolved nearest in time to it.
    Markets resolving on the same news resolve at about the same time: if the clusters miss such a link,
    this feature predicts the outcome, and the canary fires."""
    cids = table.column("condition_id").to_pylist()
    first: dict[str, tuple] = {}
    for cid, cluster, label, when in zip(
        cids,
        table.column("cluster").to_pylist(),
        table.column("label").to_pylist(),
        table.column("label_ts").to_pylist(),
    ):
        first.setdefault(cid, (cluster, label, when))
    markets = sorted(first, key=lambda c: (first[c][2], c))
    donor: dict[str, float] = {}
    for i, cid in enumerate(markets):
        candidates = [
            other
            for j in (i - 1, i + 1, i - 2, i + 2)
            if 0 <= j < len(markets) and first[(other := markets[j])][0] != first[cid][0]
        ]
        if not candidates:
            donor[cid] = float("nan")  # no other cluster close by: nothing to borrow
            continue
        nearest = min(candidates, key=lambda o: abs((first[o][2] - first[cid][2]).total_seconds()))
        donor[cid] = float(first[nearest][1])
    return table.append_column(PLACEBO, pa.array([donor[c] for c in cids]))


def run_canaries(
    training_set: pa.Table, split: str = "test", replicates: int = 1000, seed: int = 0
) -> dict[str, dict]:
    """Per canary: its ΔBrier against the market on the split's rows (CI at `CANARY_LEVEL`), verdict, null."""
    rng = np.random.default_rng(seed)
    train, validation, test = (_split(training_set, s) for s in ("train", "validation", split))
    variants = {
        "shuffled_labels": (
            _shuffled_labels(train, rng),
            _shuffled_labels(validation, rng),
            test,
            list(FEATURE_COLUMNS),
        ),
        "noise_feature": (
            _with_noise(train, rng),
            _with_noise(validation, rng),
            _with_noise(test, rng),
            [NOISE],
        ),
        "placebo_outcome": (_with_placebo(train), _with_placebo(validation), _with_placebo(test), [PLACEBO]),
    }
    y = column_array(test, "label")
    clusters = np.asarray(test.column("cluster").to_pylist(), dtype=object)
    out = {}
    for name, (fit_rows, val_rows, score_rows, features) in variants.items():
        model = model_lib.train(fit_rows, val_rows, features=features)
        delta = paired_delta_brier(
            model.predict(score_rows), market_price(score_rows), y, clusters, replicates, seed, CANARY_LEVEL
        ).as_dict()
        outcome = verdict(delta)
        out[name] = {**delta, "level": CANARY_LEVEL, "verdict": outcome, "null": outcome != "gain"}
    return out
