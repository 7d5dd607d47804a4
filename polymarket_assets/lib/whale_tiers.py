"""The whale tiers: USD notional thresholds (size × price, never shares) and their labels ("1k", "5k", "25k").

Shared by the `whale_events` classification (`lib/trades/whales.py`), the `large_trades` view
(`lib/tables.py`) and the features' whale flow (`lib/ml/features.py`), so all three agree on which trades
are whales.
"""

DEFAULT_THRESHOLDS = (1_000.0, 5_000.0, 25_000.0)


def tier_label(threshold: float) -> str:
    threshold = float(threshold)
    return f"{threshold / 1000:g}k" if threshold >= 1000 else f"{threshold:g}"
