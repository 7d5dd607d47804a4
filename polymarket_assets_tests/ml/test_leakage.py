"""Future perturbation: rewriting everything observed after an instant t must not change any feature at or
before t. Run on the lake the real collection assets recorded (the informed simulated world)."""

import shutil
from datetime import timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from polymarket_assets.lib.ml.features import build_features
from polymarket_assets.lib.ml.sources import connect
from polymarket_assets.lib.schemas import FEATURE_COLUMNS, ID_COLUMNS
from polymarket_assets_tests.ml.conftest import WORLD_START

T = WORLD_START + timedelta(hours=10)  # between the 08:00 and 12:00 steps, so both sides have rows
DAY = (WORLD_START, WORLD_START + timedelta(days=1))


def _rewrite(directory, change) -> int:
    """Apply `change(rows) -> rows` to every Parquet file of a table, keeping each file's schema."""
    changed = 0
    for path in sorted(directory.rglob("*.parquet")):
        table = pq.read_table(path)
        rows = table.to_pylist()
        new_rows = change(rows)
        changed += sum(1 for a, b in zip(rows, new_rows) if a != b) + abs(len(new_rows) - len(rows))
        pq.write_table(pa.Table.from_pylist(new_rows, schema=table.schema), path)
    return changed


def _perturb_snapshots(rows):
    out = []
    for i, row in enumerate(rows):
        if row["captured_at"] <= T:
            out.append(row)
            continue
        if i % 3 == 0:
            continue  # some future rows vanish
        row = dict(row)
        for name in ("mid", "best_bid", "best_ask", "last_trade_price"):
            if row[name] is not None:
                row[name] = round(1.0 - row[name], 6)
        for name in ("bid_depth", "ask_depth", "volume_24h", "liquidity", "imbalance"):
            if row[name] is not None:
                row[name] = row[name] * 7 + 1
        out.append(row)
        if i % 5 == 0:  # and new ones appear
            extra = dict(row)
            extra["captured_at"] = extra["slot_ts"] = row["captured_at"] + timedelta(seconds=7)
            out.append(extra)
    return out


def _perturb_trades(rows):
    out = []
    for row in rows:
        avail = max(row["exchange_ts"], row["received_at"] or row["exchange_ts"])
        if avail <= T:
            out.append(row)
            continue
        row = dict(row)
        row["side"] = "SELL" if row["side"] == "BUY" else "BUY"
        row["size"] *= 100
        row["notional_usd"] = row["size"] * row["price"]
        out.append(row)
        # a whale printed before t but recorded only after it (a late backfill) is future data too
        late = dict(row)
        late["trade_uid"] = f"late-{row['trade_uid']}"
        late["exchange_ts"] = T - timedelta(minutes=20)
        late["received_at"] = T + timedelta(minutes=1)
        late["size"], late["notional_usd"] = 1e6, 1e6 * row["price"]
        out.append(late)
    return out


def _perturb_states(rows):
    out = []
    for row in rows:
        if row["observed_at"] <= T:
            out.append(row)
            continue
        row = dict(row)
        row["end_date"] = row["end_date"] + timedelta(days=5) if row["end_date"] else None
        row["neg_risk"] = not row["neg_risk"]
        row["neg_risk_market_id"] = "0xfuture"
        row["event_id"] = "future-event"
        row["category"] = "Future"
        row["yes_token_id"], row["no_token_id"] = row["no_token_id"], row["yes_token_id"]
        row["created_at"] = T - timedelta(days=30)
        out.append(row)
    return out


def _perturb_resolutions(rows):
    flip = {"YES": "NO", "NO": "YES"}
    return [{**r, "outcome": flip.get(r["outcome"], "YES")} for r in rows]


def _features(lake_root) -> dict:
    table = build_features(connect(), lake_root, *DAY)
    return {(r["condition_id"], r["ts"]): r for r in table.to_pylist()}


def test_changing_everything_after_t_leaves_every_feature_at_or_before_t_unchanged(signal_world, tmp_path):
    original_root = signal_world.data_dir / "lake"
    copy_root = tmp_path / "lake"
    shutil.copytree(original_root, copy_root)
    changed = {
        "snapshots": _rewrite(copy_root / "snapshots", _perturb_snapshots),
        "trades": _rewrite(copy_root / "trades", _perturb_trades),
        "market_states": _rewrite(copy_root / "market_states", _perturb_states),
        "resolutions": _rewrite(copy_root / "resolutions", _perturb_resolutions),
    }
    assert all(n > 0 for n in changed.values()), changed

    before = _features(original_root)
    after = _features(copy_root)
    past = [key for key in before if key[1] <= T]
    future = [key for key in before if key[1] > T]
    assert len(past) > 300 and len(future) > 300
    for key in past:
        a, b = before[key], after[key]
        for name in ID_COLUMNS + FEATURE_COLUMNS:
            if a[name] is None or isinstance(a[name], str) or not isinstance(a[name], float):
                assert a[name] == b[name], (key, name, a[name], b[name])
            else:
                assert b[name] == pytest.approx(a[name], rel=1e-9, abs=1e-9), (key, name)
    # the perturbation reached the rows after t, so the comparison above could have failed
    differing = sum(1 for key in future if key not in after or after[key]["price"] != before[key]["price"])
    assert differing > len(future) // 2
    whale_changed = sum(
        1
        for key in future
        if key in after and after[key]["whale_count_24h"] != before[key]["whale_count_24h"]
    )
    assert whale_changed > 0
