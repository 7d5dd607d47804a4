"""The recalibrated-price baseline: isotonic regression of the outcome on the market price, fitted on train."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

CLIP = 1e-3


class PriceCalibrator:
    """Monotone map price -> probability, fitted on the training period only and applied unchanged later."""

    def __init__(self) -> None:
        from sklearn.isotonic import IsotonicRegression  # imported on use: run workers start faster

        self._iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip", increasing=True)
        self.fitted = False

    def fit(self, price: ArrayLike, y: ArrayLike) -> PriceCalibrator:
        price = np.asarray(price, dtype=float)
        y = np.asarray(y, dtype=float)
        ok = np.isfinite(price)
        self._iso.fit(price[ok], y[ok])
        self.fitted = True
        return self

    def predict(self, price: ArrayLike) -> np.ndarray:
        if not self.fitted:
            raise RuntimeError("fit the calibrator on the training period first")
        price = np.asarray(price, dtype=float)
        out = self._iso.predict(np.nan_to_num(price, nan=0.5))
        # A step function can return exactly 0 or 1; keep log loss finite without hiding overconfidence.
        return np.clip(out, CLIP, 1 - CLIP)
