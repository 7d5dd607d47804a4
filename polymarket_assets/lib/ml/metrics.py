"""Probability scores: Brier (with its reliability / resolution decomposition), log loss, AUC, expected
calibration error, and the reliability curve."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

EPS = 1e-6


def _arrays(p: ArrayLike, y: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(p, dtype=float)
    y = np.asarray(y, dtype=float)
    if p.shape != y.shape:
        raise ValueError(f"shapes differ: {p.shape} vs {y.shape}")
    return p, y


def brier(p: ArrayLike, y: ArrayLike) -> float:
    p, y = _arrays(p, y)
    return float(np.mean((p - y) ** 2)) if p.size else float("nan")


def row_log_loss(p: ArrayLike, y: ArrayLike, eps: float = EPS) -> np.ndarray:
    p, y = _arrays(p, y)
    q = np.clip(p, eps, 1 - eps)
    return -(y * np.log(q) + (1 - y) * np.log(1 - q))


def log_loss(p: ArrayLike, y: ArrayLike, eps: float = EPS) -> float:
    p, y = _arrays(p, y)
    return float(np.mean(row_log_loss(p, y, eps))) if p.size else float("nan")


def auc(p: ArrayLike, y: ArrayLike) -> float:
    """Area under the ROC curve (Mann-Whitney, ties count half); NaN unless both classes are present."""
    p, y = _arrays(p, y)
    pos = y == 1
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(p, kind="mergesort")
    sorted_p = p[order]
    ranks = np.empty(p.size, dtype=float)
    i = 0
    while i < p.size:
        j = i
        while j + 1 < p.size and sorted_p[j + 1] == sorted_p[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def reliability(p: ArrayLike, y: ArrayLike, bins: int = 10) -> list[dict]:
    """Equal-width bins over [0, 1]: count, mean predicted probability and observed frequency per bin."""
    p, y = _arrays(p, y)
    index = np.clip((p * bins).astype(int), 0, bins - 1)
    out = []
    for b in range(bins):
        mask = index == b
        n = int(mask.sum())
        out.append(
            {
                "bin": b,
                "lo": b / bins,
                "hi": (b + 1) / bins,
                "n": n,
                "mean_p": float(p[mask].mean()) if n else None,
                "freq": float(y[mask].mean()) if n else None,
            }
        )
    return out


def ece(p: ArrayLike, y: ArrayLike, bins: int = 10) -> float:
    """Expected calibration error: bin-size-weighted |mean prediction - observed frequency|."""
    p, y = _arrays(p, y)
    if not p.size:
        return float("nan")
    total = 0.0
    for row in reliability(p, y, bins):
        if row["n"]:
            total += row["n"] * abs(row["mean_p"] - row["freq"])
    return float(total / p.size)


def brier_decomposition(p: ArrayLike, y: ArrayLike, bins: int = 10) -> dict[str, float]:
    """Murphy's decomposition over equal-width bins: Brier = reliability - resolution + uncertainty + a
    within-bin term. Reliability (lower is better) is how far each bin's mean forecast is from its observed
    frequency; resolution (higher is better) is how far the bins' frequencies spread from the base rate."""
    p, y = _arrays(p, y)
    if not p.size:
        return {"reliability": float("nan"), "resolution": float("nan"), "uncertainty": float("nan")}
    base = float(y.mean())
    rel = res = 0.0
    for row in reliability(p, y, bins):
        if row["n"]:
            w = row["n"] / p.size
            rel += w * (row["mean_p"] - row["freq"]) ** 2
            res += w * (row["freq"] - base) ** 2
    return {"reliability": float(rel), "resolution": float(res), "uncertainty": base * (1 - base)}


def scores(p: ArrayLike, y: ArrayLike) -> dict[str, float]:
    return {
        "brier": brier(p, y),
        "log_loss": log_loss(p, y),
        "auc": auc(p, y),
        "ece": ece(p, y),
        **brier_decomposition(p, y),
        "n": int(np.size(y)),
    }
