"""The simulator's ground truth, for tests and benchmarks that exercise the recorder alone.

- ``seed_markets_from_sim``: a ``markets_current`` written from the simulator's markets, so the recorder has a
  universe without a discovery run (the demo runs the real ``markets`` asset instead).
- ``compare_with_truth`` / ``capture_stats`` / ``match_key``: recorded trades against the exchange's own, as a
  multiset (captured, missing, duplicated, unexplained).
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime

import pyarrow as pa

from polymarket_assets.lib.parquet_store import Lake
from polymarket_assets.lib.schemas import MARKET_CURRENT_SCHEMA
from polymarket_assets.lib.tiers import assign_tier


def seed_markets_from_sim(
    data_dir: str | os.PathLike, control, condition_ids: Iterable[str] | None = None
) -> list[dict]:
    """Write ``markets_current`` from the simulator's ground truth (for tests and benchmarks that exercise the
    recorder alone; the demo runs the real ``markets`` asset). Markets not yet resolved are ``open``."""
    now = datetime.fromtimestamp(control.now(), tz=UTC)
    wanted = set(condition_ids) if condition_ids is not None else None
    rows = []
    for m in control.markets():
        if wanted is not None and m["condition_id"] not in wanted:
            continue
        end = datetime.fromtimestamp(m["end_date"], tz=UTC)
        resolved = m["state"] == "resolved"
        rows.append(
            {
                "observed_at": now,
                "gamma_id": m["gamma_id"],
                "condition_id": m["condition_id"],
                "question": m["question"],
                "slug": m["slug"],
                "yes_outcome": m["yes_outcome"],
                "no_outcome": m["no_outcome"],
                "yes_token_id": m["yes_token_id"],
                "no_token_id": m["no_token_id"],
                "outcomes": json.dumps(m["outcomes"]),
                "version": m["version"],
                "end_date": end,
                "closed": resolved,
                "tier": assign_tier(end, now),
                "first_seen_at": now,
                "last_seen_open_at": None if resolved else now,
                "discovery_status": "gone" if resolved else "open",
            }
        )
    Lake(data_dir).replace_partition(
        "markets_current", pa.Table.from_pylist(rows, schema=MARKET_CURRENT_SCHEMA), {}
    )
    return rows


def match_key(asset_id: str, side: str, size: float, price: float, ts_s: int) -> tuple:
    return (asset_id, side, round(float(size), 6), round(float(price), 6), int(ts_s))


def capture_stats(recorded: Iterable[tuple], truth: Iterable[tuple]) -> dict:
    """Multiset comparison of recorded trades with the exchange's, both as ``match_key`` tuples.

    ``duplicates``: recorded rows beyond the number of identical true trades; ``missing``: true trades with no
    recorded row; ``capture_ratio``: matched / true.
    """
    rec, tru = Counter(recorded), Counter(truth)
    matched = sum(min(n, tru[k]) for k, n in rec.items())
    true_total = sum(tru.values())
    return {
        "truth": true_total,
        "recorded": sum(rec.values()),
        "matched": matched,
        "missing": true_total - matched,
        "duplicates": sum(max(0, n - tru[k]) for k, n in rec.items() if k in tru),
        "unexplained": sum(n for k, n in rec.items() if k not in tru),
        "capture_ratio": matched / true_total if true_total else None,
    }


def compare_with_truth(
    recorded: Iterable[tuple], control, condition_ids: Iterable[str], start: float, end: float
) -> dict:
    """``capture_stats`` of recorded trades against the simulator's ground truth, on whole seconds.

    ``recorded``: (asset_id, side, size, price, exchange_ts_ms, condition_id) tuples. Backfilled trades only
    know their second, so the comparison covers the seconds in [ceil(start), floor(end)) on both sides.
    """
    first, stop = math.ceil(start), math.floor(end)
    cids = set(condition_ids)
    rec = [
        match_key(a, s, z, p, ms // 1000)
        for a, s, z, p, ms, cid in recorded
        if cid in cids and first <= ms // 1000 < stop
    ]
    truth = []
    ordered = sorted(cids)
    for i in range(0, len(ordered) if stop > first else 0, 50):  # 50 ids per request keeps the URL short
        truth += control.truth_trades(condition_ids=ordered[i : i + 50], start=first, end=stop)
    tru = [
        match_key(t["asset_id"], t["side"], t["size_num"], t["price_num"], t["timestamp"])
        for t in truth
        if first <= t["timestamp"] < stop
    ]
    return {**capture_stats(rec, tru), "start": first, "end": stop}
