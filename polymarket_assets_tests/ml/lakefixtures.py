"""Small hand-built lakes for the ML unit tests, written with the collection's own schemas and layout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa

from polymarket_assets.lib.parquet_store import Lake
from polymarket_assets.lib.schemas import MARKET_STATE_SCHEMA, RESOLUTION_SCHEMA, SNAPSHOT_SCHEMA, TS

T0 = datetime(2026, 11, 20, tzinfo=UTC)

# The trade columns the ML layer reads (the trades domain's table has more).
TRADE_SCHEMA = pa.schema(
    [
        ("trade_uid", pa.string()),
        ("asset_id", pa.string()),
        ("condition_id", pa.string()),
        ("side", pa.string()),
        ("price", pa.float64()),
        ("size", pa.float64()),
        ("notional_usd", pa.float64()),
        ("exchange_ts", pa.timestamp("ms", tz="UTC")),
        ("received_at", TS),
    ]
)


def _full(schema: pa.Schema, rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(
        [{name: row.get(name) for name in schema.names} for row in rows], schema=schema
    )


def _by_hour(rows: list[dict], key: str) -> dict[tuple[str, str], list[dict]]:
    out: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        ts = row[key]
        out.setdefault((f"{ts:%Y-%m-%d}", f"{ts:%H}"), []).append(row)
    return out


def write_snapshots(lake: Lake, rows: list[dict], stem: str = "slot") -> None:
    for (date, hour), group in _by_hour(rows, "slot_ts").items():
        tiers: dict[str, list[dict]] = {}
        for row in group:
            tiers.setdefault(row.get("tier", "T0"), []).append(row)
        for tier, part in tiers.items():
            lake.write(
                "snapshots", _full(SNAPSHOT_SCHEMA, part), {"tier": tier, "date": date, "hour": hour}, stem
            )


def write_states(lake: Lake, rows: list[dict], stem: str = "part") -> None:
    for (date, hour), group in _by_hour(rows, "observed_at").items():
        lake.write("market_states", _full(MARKET_STATE_SCHEMA, group), {"date": date, "hour": hour}, stem)


def write_trades(lake: Lake, rows: list[dict], stem: str = "part") -> None:
    for (date, hour), group in _by_hour(rows, "exchange_ts").items():
        lake.write("trades", _full(TRADE_SCHEMA, group), {"date": date, "hour": hour}, stem)


def write_resolutions(lake: Lake, rows: list[dict], stem: str = "checked") -> None:
    for (date, hour), group in _by_hour(rows, "checked_at").items():
        lake.write("resolutions", _full(RESOLUTION_SCHEMA, group), {"date": date, "hour": hour}, stem)


def market_state(cid: str, observed_at: datetime, end_date: datetime, **extra) -> dict:
    row = {
        "observed_at": observed_at,
        "condition_id": cid,
        "yes_token_id": f"{cid}-yes",
        "no_token_id": f"{cid}-no",
        "end_date": end_date,
        "created_at": T0 - timedelta(days=3),
        "neg_risk": False,
        "neg_risk_market_id": None,
        "event_id": f"ev-{cid}",
        "category": "Politics",
        "question": f"question {cid}?",
    }
    row.update(extra)
    return row


def snapshot(cid: str, ts: datetime, mid: float, tier: str = "T1", spread: float = 0.02, **extra) -> dict:
    row = {
        "condition_id": cid,
        "tier": tier,
        "slot_ts": ts,
        "captured_at": ts,
        "source": "books",
        "yes_token_id": f"{cid}-yes",
        "no_token_id": f"{cid}-no",
        "best_bid": round(mid - spread / 2, 6),
        "best_ask": round(mid + spread / 2, 6),
        "mid": mid,
        "spread": spread,
        "last_trade_price": mid,
        "bid_depth": 500.0,
        "ask_depth": 400.0,
        "bid_depth_1c": 100.0,
        "ask_depth_1c": 80.0,
        "bid_depth_5c": 300.0,
        "ask_depth_5c": 250.0,
        "imbalance": 0.1,
        "volume_24h": 1000.0,
        "liquidity": 5000.0,
    }
    row.update(extra)
    return row


def trade(
    cid: str,
    ts: datetime,
    token: str,
    side: str,
    price: float,
    usd: float,
    received_at: datetime | None = None,
    uid: str | None = None,
) -> dict:
    size = usd / price
    return {
        "trade_uid": uid or f"{cid}-{ts.timestamp()}-{token}-{side}-{usd}",
        "asset_id": f"{cid}-{token}",
        "condition_id": cid,
        "side": side,
        "price": price,
        "size": size,
        "notional_usd": size * price,
        "exchange_ts": ts,
        "received_at": received_at or ts,
    }


def resolution(cid: str, outcome: str, checked_at: datetime, resolved_at: datetime | None = None) -> dict:
    return {
        "condition_id": cid,
        "outcome": outcome,
        "checked_at": checked_at,
        "resolved_at": resolved_at if outcome in ("YES", "NO", "INVALID") else None,
        "source": "gamma",
    }
