"""The baselines a model must beat, each fitted on the training split only and applied unchanged later.

- `market`: the price as the probability (the mid, or the last trade when a side of the book is empty).
- `displayed`: the price Polymarket shows: the mid when the spread is at most 0.10, else the last trade.
- `isotonic`: a monotone map price → probability (isotonic regression).
- `platt`: logistic regression on the price's log-odds (corrects a market that is over- or under-confident).
- `price_bucket`: the observed YES frequency per price bucket, shrunk towards the bucket's mean price
  (the favourite–longshot bias, if the market has one).
- `price_hours`: logistic regression on the log-odds, log(1 + hours to close) and their product (a
  favourite–longshot bias that depends on the time left).

The model is reported against the best of them on the scored rows, so a gain is a gain over every simple
correction of the price, not only over the raw mid.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from polymarket_assets.lib.ml.calibration import CLIP, PriceCalibrator
from polymarket_assets.lib.ml.model import column_array

if TYPE_CHECKING:
    from sklearn.linear_model import LogisticRegression

BASELINES = ("market", "displayed", "isotonic", "platt", "price_bucket", "price_hours")
DISPLAYED_SPREAD_MAX = 0.10
BUCKET_EDGES = np.array([0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0000001])
BUCKET_PRIOR_ROWS = 10.0  # a bucket's frequency counts as this many rows at its mean price


def market_price(rows: pa.Table) -> np.ndarray:
    return np.clip(np.nan_to_num(column_array(rows, "price"), nan=0.5), 0.0, 1.0)


def displayed_price(rows: pa.Table) -> np.ndarray:
    mid, last = column_array(rows, "mid"), column_array(rows, "last_trade_price")
    spread = column_array(rows, "spread")
    use_last = (np.nan_to_num(spread, nan=np.inf) > DISPLAYED_SPREAD_MAX) & np.isfinite(last)
    shown = np.where(use_last | ~np.isfinite(mid), last, mid)
    return np.clip(np.where(np.isfinite(shown), shown, market_price(rows)), 0.0, 1.0)


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, CLIP, 1 - CLIP)
    return np.log(q / (1 - q))


def _hours(rows: pa.Table) -> np.ndarray:
    return np.log1p(np.clip(np.nan_to_num(column_array(rows, "hours_to_close"), nan=0.0), 0.0, None))


def _logistic(x: np.ndarray, y: np.ndarray) -> LogisticRegression | None:
    from sklearn.linear_model import LogisticRegression  # imported on use: run workers start faster

    if len(set(y.tolist())) < 2:
        return None
    return LogisticRegression(C=100.0, max_iter=1000).fit(x, y)


def _price_hours_x(rows: pa.Table) -> np.ndarray:
    z, h = _logit(market_price(rows)), _hours(rows)
    return np.column_stack([z, h, z * h])


class Baselines:
    """Every baseline, fitted on the training rows."""

    def __init__(self, train: pa.Table) -> None:
        price = market_price(train)
        y = column_array(train, "label")
        self.base_rate = float(y.mean()) if y.size else 0.5
        self.isotonic = PriceCalibrator().fit(price, y)
        self.platt = _logistic(_logit(price)[:, None], y)
        self.price_hours = _logistic(_price_hours_x(train), y)
        index = np.digitize(price, BUCKET_EDGES) - 1
        self.bucket = np.empty(len(BUCKET_EDGES) - 1)
        for b in range(self.bucket.size):
            mask = index == b
            centre = 0.5 * (BUCKET_EDGES[b] + min(BUCKET_EDGES[b + 1], 1.0))
            prior = float(price[mask].mean()) if mask.any() else centre
            self.bucket[b] = (y[mask].sum() + BUCKET_PRIOR_ROWS * prior) / (mask.sum() + BUCKET_PRIOR_ROWS)

    def predict(self, rows: pa.Table) -> dict[str, np.ndarray]:
        price = market_price(rows)

        def fitted(model: LogisticRegression | None, x: np.ndarray) -> np.ndarray:
            return model.predict_proba(x)[:, 1] if model is not None else np.full(len(x), self.base_rate)

        out = {
            "market": price,
            "displayed": displayed_price(rows),
            "isotonic": self.isotonic.predict(price),
            "platt": fitted(self.platt, _logit(price)[:, None]),
            "price_bucket": self.bucket[
                np.clip(np.digitize(price, BUCKET_EDGES) - 1, 0, self.bucket.size - 1)
            ],
            "price_hours": fitted(self.price_hours, _price_hours_x(rows)),
        }
        return {
            name: np.clip(p, CLIP, 1 - CLIP) if name not in ("market", "displayed") else p
            for name, p in out.items()
        }
