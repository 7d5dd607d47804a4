"""Paired bootstrap of a score difference, resampling whole clusters (events, or single markets).

Rows of one market (its several horizons) and of one event are not independent, so the unit of resampling
is the cluster: each replicate draws clusters with replacement and recomputes the mean over the drawn rows
of a per-row loss difference, e.g. ΔBrier = (p_model - y)² - (p_base - y)². Both forecasts are scored on the
same rows in every replicate (paired).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

# A gain smaller than this (in Brier) is not called a gain even when its CI excludes 0: a near-copy of the
# market plus a base-rate shift can be "significant" and still mean nothing. Real feature models gain ~0.009.
MIN_EFFECT_BRIER = 0.002


def verdict(delta: dict, min_effect: float = MIN_EFFECT_BRIER) -> str:
    """'gain' (CI below 0 and the gain at least `min_effect`), 'loss' (CI above 0 and the loss at least
    `min_effect`) or 'none'."""
    if delta["ci_high"] < 0 and delta["delta"] <= -min_effect:
        return "gain"
    if delta["ci_low"] > 0 and delta["delta"] >= min_effect:
        return "loss"
    return "none"


@dataclass(frozen=True)
class DeltaCI:
    delta: float
    low: float
    high: float
    n_rows: int
    n_clusters: int
    replicates: int

    def as_dict(self) -> dict:
        return {
            "delta": self.delta,
            "ci_low": self.low,
            "ci_high": self.high,
            "n_rows": self.n_rows,
            "n_clusters": self.n_clusters,
            "replicates": self.replicates,
        }


def cluster_sums(values: np.ndarray, clusters: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Per-cluster sum of values and row count."""
    _, inverse = np.unique(np.asarray(clusters, dtype=object).astype(str), return_inverse=True)
    sums = np.bincount(inverse, weights=values)
    counts = np.bincount(inverse).astype(float)
    return sums, counts


def paired_delta_brier(
    p_model: ArrayLike,
    p_base: ArrayLike,
    y: ArrayLike,
    clusters: ArrayLike,
    replicates: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> DeltaCI:
    p_model = np.asarray(p_model, dtype=float)
    p_base = np.asarray(p_base, dtype=float)
    y = np.asarray(y, dtype=float)
    diff = (p_model - y) ** 2 - (p_base - y) ** 2
    return paired_delta(diff, clusters, replicates, seed, level)


def paired_delta_log_loss(
    p_model: ArrayLike,
    p_base: ArrayLike,
    y: ArrayLike,
    clusters: ArrayLike,
    replicates: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> DeltaCI:
    from polymarket_assets.lib.ml.metrics import row_log_loss

    diff = row_log_loss(p_model, y) - row_log_loss(p_base, y)
    return paired_delta(diff, clusters, replicates, seed, level)


def paired_delta(
    diff: ArrayLike, clusters: ArrayLike, replicates: int = 2000, seed: int = 0, level: float = 0.95
) -> DeltaCI:
    """Mean of the per-row differences with a cluster-bootstrap percentile CI."""
    diff = np.asarray(diff, dtype=float)
    if diff.size == 0:
        return DeltaCI(float("nan"), float("nan"), float("nan"), 0, 0, 0)
    sums, counts = cluster_sums(diff, clusters)
    k = sums.size
    rng = np.random.default_rng(seed)
    stats = np.empty(replicates)
    chunk = max(1, 2_000_000 // max(k, 1))
    done = 0
    while done < replicates:
        b = min(chunk, replicates - done)
        weights = rng.multinomial(k, np.full(k, 1.0 / k), size=b).astype(float)
        stats[done : done + b] = (weights @ sums) / (weights @ counts)
        done += b
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(stats, [alpha, 1.0 - alpha])
    return DeltaCI(float(diff.mean()), float(low), float(high), int(diff.size), int(k), replicates)
