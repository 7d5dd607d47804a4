"""Dagster-free ML logic: point-in-time feature SQL, training sets and splits, metrics, bootstrap,
calibration, the XGBoost model artifact and the backtest. The assets in `defs/ml/` call into this package."""
