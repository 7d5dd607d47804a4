"""Scores, the clustered paired bootstrap and the isotonic baseline, against independent references."""

import numpy as np
import pytest
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.metrics import log_loss as sk_log_loss

from polymarket_assets.lib.ml.bootstrap import paired_delta_brier
from polymarket_assets.lib.ml.calibration import PriceCalibrator
from polymarket_assets.lib.ml.metrics import auc, brier, ece, log_loss, reliability


@pytest.fixture()
def sample():
    rng = np.random.default_rng(3)
    p = rng.uniform(0.01, 0.99, 500)
    y = (rng.uniform(size=500) < p).astype(float)
    return p, y


def test_scores_match_scikit_learn(sample):
    p, y = sample
    assert brier(p, y) == pytest.approx(brier_score_loss(y, p))
    assert log_loss(p, y) == pytest.approx(sk_log_loss(y, p))
    assert auc(p, y) == pytest.approx(roc_auc_score(y, p))


def test_auc_counts_ties_as_half_and_needs_both_classes():
    assert auc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1]) == pytest.approx(0.5)
    assert auc([0.2, 0.4, 0.4, 0.9], [0, 0, 1, 1]) == pytest.approx(
        roc_auc_score([0, 0, 1, 1], [0.2, 0.4, 0.4, 0.9])
    )
    assert np.isnan(auc([0.1, 0.2], [1, 1]))


def test_ece_by_hand():
    # bin [0.1, 0.2): two forecasts of 0.15, one YES -> |0.15 - 0.5| ; bin [0.9, 1.0): one 0.95, YES -> 0.05
    p, y = [0.15, 0.15, 0.95], [1, 0, 1]
    assert ece(p, y) == pytest.approx((2 * 0.35 + 1 * 0.05) / 3)
    rows = [r for r in reliability(p, y) if r["n"]]
    assert [(r["bin"], r["n"]) for r in rows] == [(1, 2), (9, 1)]
    assert ece([0.0, 1.0], [0, 1]) == 0.0


def test_log_loss_stays_finite_on_certain_wrong_forecasts():
    assert np.isfinite(log_loss([0.0, 1.0], [1, 0]))


def test_bootstrap_ci_is_paired_and_clustered():
    rng = np.random.default_rng(0)
    clusters = np.repeat(np.arange(200), 3)
    y = np.repeat(rng.integers(0, 2, 200), 3).astype(float)
    base = np.clip(0.5 + 0.3 * (y - 0.5) + rng.normal(0, 0.15, y.size), 0.01, 0.99)
    better = np.clip(base + 0.1 * (2 * y - 1), 0.01, 0.99)
    ci = paired_delta_brier(better, base, y, clusters, replicates=1000)
    assert ci.high < 0 and ci.low < ci.delta < ci.high
    assert ci.n_clusters == 200 and ci.n_rows == 600
    same = paired_delta_brier(base, base, y, clusters, replicates=200)
    assert (
        same.delta == 0 and same.low == 0 and same.high == 0
    )  # paired: identical forecasts differ by exactly 0


def test_bootstrap_widens_when_rows_are_copies_of_one_cluster():
    rng = np.random.default_rng(1)
    n = 60
    y = rng.integers(0, 2, n).astype(float)
    a, b = rng.uniform(0, 1, n), rng.uniform(0, 1, n)
    rows = 10  # each market repeated: the evidence is still only n markets
    ya, aa, bb = np.repeat(y, rows), np.repeat(a, rows), np.repeat(b, rows)
    by_cluster = paired_delta_brier(aa, bb, ya, np.repeat(np.arange(n), rows), replicates=1000)
    by_row = paired_delta_brier(aa, bb, ya, np.arange(n * rows), replicates=1000)
    assert (by_cluster.high - by_cluster.low) > 2 * (by_row.high - by_row.low)


def test_bootstrap_is_reproducible_and_covers_zero_without_signal():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 300).astype(float)
    p1, p2 = rng.uniform(0.3, 0.7, 300), rng.uniform(0.3, 0.7, 300)
    first = paired_delta_brier(p1, p2, y, np.arange(300), replicates=500, seed=4)
    assert first == paired_delta_brier(p1, p2, y, np.arange(300), replicates=500, seed=4)
    assert first.low < 0 < first.high


def test_isotonic_baseline_is_monotone_and_fixes_a_biased_price():
    rng = np.random.default_rng(2)
    truth = rng.uniform(0.05, 0.95, 4000)
    y = (rng.uniform(size=truth.size) < truth).astype(float)
    biased = truth**2  # the market underprices YES everywhere
    calibrator = PriceCalibrator().fit(biased[:2000], y[:2000])
    fixed = calibrator.predict(biased[2000:])
    assert brier(fixed, y[2000:]) < brier(biased[2000:], y[2000:]) - 0.01
    grid = calibrator.predict(np.linspace(0, 1, 101))
    assert np.all(np.diff(grid) >= 0) and grid.min() >= 1e-3 and grid.max() <= 1 - 1e-3
    with pytest.raises(RuntimeError):
        PriceCalibrator().predict([0.5])
