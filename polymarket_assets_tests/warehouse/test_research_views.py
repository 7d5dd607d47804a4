"""Researcher views: snapshots with question and slug, trades in YES terms (by outcome name, rounded to the tick),
live large trades, and coverage per hour computed from the sweep log."""

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polymarket_assets.lib import tables
from polymarket_assets.lib.parquet_store import Lake
from polymarket_assets.lib.schemas import MARKET_CURRENT_SCHEMA, SNAPSHOT_SCHEMA, SWEEP_SCHEMA, TRADES_SCHEMA
from polymarket_assets.lib.warehouse import build_warehouse, connect_read_only

H = datetime(2026, 11, 25, 7, tzinfo=UTC)
PARTS = {"date": "2026-11-25", "hour": "07"}


def _market(cid, yes, no, tick):
    return {
        "condition_id": cid,
        "question": f"Will {cid} happen?",
        "slug": f"will-{cid}",
        "yes_outcome": yes,
        "no_outcome": no,
        "yes_token_id": f"{cid}-yes",
        "no_token_id": f"{cid}-no",
        "tick_size": tick,
        "discovery_status": "open",
    }


def _trade(uid, cid, outcome, index, side, price, size):
    return {
        "trade_uid": uid,
        "source": "ws",
        "asset_id": f"{cid}-{outcome.lower()}",
        "condition_id": cid,
        "outcome": outcome,
        "outcome_index": index,
        "side": side,
        "price": price,
        "size": size,
        "notional_usd": price * size,
        "exchange_ts": H + timedelta(minutes=1),
        "received_at": H + timedelta(minutes=1),
    }


@pytest.fixture
def warehouse(tmp_path):
    lake = Lake(tmp_path)
    markets = [
        _market("a", "Yes", "No", 0.01),
        _market("b", "Up", "Down", 0.001),
        _market("c", "Yes", "No", None),
    ]
    lake.write("markets_current", pa.Table.from_pylist(markets, schema=MARKET_CURRENT_SCHEMA), {}, "current")
    trades = [
        _trade("t1", "a", "No", 1, "BUY", 0.3, 10.0),  # a NO BUY at 0.3 is a YES SELL at 0.7
        _trade("t2", "a", "Yes", 0, "SELL", 0.55, 4000.0),  # already YES; large
        _trade(
            "t3", "b", "Down", 0, "SELL", 0.123, 50000.0
        ),  # NO listed first: the name decides, not the index
        _trade("t4", "b", "Sideways", 1, "BUY", 0.5, 1.0),  # matches neither outcome: no guess
        _trade("t5", "c", "no", 1, "SELL", 0.2, 1.0),  # unknown tick: rounded to the finest one
        _trade("t6", "zzz", "Yes", 0, "BUY", 0.5, 1.0),  # market not discovered
    ]
    lake.write("trades", pa.Table.from_pylist(trades, schema=TRADES_SCHEMA), PARTS, "t")
    snaps = [
        {"condition_id": "a", "tier": "T4", "slot_ts": H, "captured_at": H, "best_bid": 0.5},
        {"condition_id": "zzz", "tier": "T4", "slot_ts": H, "captured_at": H},
    ]
    lake.write("snapshots", pa.Table.from_pylist(snaps, schema=SNAPSHOT_SCHEMA), {"tier": "T4", **PARTS}, "s")

    def sweep(ts, status, expected, captured, run):
        return {
            "tier": "T4",
            "slot_ts": ts,
            "started_at": ts,
            "lag_s": 0.0,
            "status": status,
            "expected": expected,
            "captured": captured,
            "duration_s": 0.1,
            "run_id": run,
        }

    s = lambda sec: H + timedelta(seconds=sec)
    hour7 = [
        sweep(s(0), "missed", 10, 0, "r1"),
        sweep(s(0), "captured", 10, 10, "r2"),  # a retry recovered 07:00:00
        sweep(s(15), "missed", 10, 0, "r1"),
        sweep(s(30), "partial", 10, 8, "r1"),
    ]
    hour8 = [sweep(s(3600), "captured", 5, 5, "r3")]
    lake.write("sweeps", pa.Table.from_pylist(hour7, schema=SWEEP_SCHEMA), {"tier": "T4", **PARTS}, "w")
    lake.write(
        "sweeps",
        pa.Table.from_pylist(hour8, schema=SWEEP_SCHEMA),
        {"tier": "T4", "date": "2026-11-25", "hour": "08"},
        "w",
    )
    build_warehouse(tmp_path, tables.views())
    con = connect_read_only(tmp_path)
    yield con
    con.close()


def test_trades_in_yes_terms_by_outcome_name(warehouse):
    rows = {
        r[0]: r[1:]
        for r in warehouse.execute(
            "SELECT trade_uid, token, yes_price, yes_side, question, price, side FROM trades"
        ).fetchall()
    }
    assert rows["t1"] == ("NO", 0.7, "SELL", "Will a happen?", 0.3, "BUY")
    assert rows["t2"] == ("YES", 0.55, "SELL", "Will a happen?", 0.55, "SELL")
    assert rows["t3"] == ("NO", 0.877, "BUY", "Will b happen?", 0.123, "SELL")
    assert rows["t4"][:3] == (None, None, None)
    assert rows["t5"][:3] == ("NO", 0.8, "BUY")
    assert rows["t6"][:4] == (None, None, None, None)


def test_large_trades_are_live_with_their_whale_tier(warehouse):
    rows = warehouse.execute(
        "SELECT trade_uid, whale_tier, yes_price FROM large_trades ORDER BY trade_uid"
    ).fetchall()
    assert rows == [("t2", "1k", 0.55), ("t3", "5k", 0.877)]


def test_snapshots_carry_question_slug_and_tier(warehouse):
    rows = {
        r[0]: r[1:]
        for r in warehouse.execute("SELECT condition_id, question, slug, tier FROM snapshots").fetchall()
    }
    assert rows == {"a": ("Will a happen?", "will-a", "T4"), "zzz": (None, None, "T4")}


def test_coverage_hourly_is_computed_live_from_sweeps(warehouse):
    rows = warehouse.execute(
        "SELECT hour, expected, captured, instants, instants_lost, instants_partial, in_progress "
        "FROM coverage_hourly WHERE tier = 'T4' ORDER BY hour"
    ).fetchall()
    assert rows == [(H, 30, 18, 3, 1, 1, False), (H + timedelta(hours=1), 5, 5, 1, 0, 0, True)]
    assert warehouse.execute("SELECT coverage FROM coverage_hourly WHERE hour = ?", [H]).fetchone()[
        0
    ] == pytest.approx(0.6)


def test_existing_view_names_keep_working(warehouse):
    names = {
        r[0] for r in warehouse.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()
    }
    assert {"markets", "snapshots", "trades", "coverage", "sweeps", "whale_events", "ws_gaps"} <= names
    assert {"coverage_hourly", "large_trades"} <= names


@settings(max_examples=30, deadline=None)
@given(ticks=st.integers(min_value=1, max_value=999), tick=st.sampled_from([0.01, 0.001]))
def test_yes_price_of_a_no_trade_is_one_minus_its_price_on_the_tick(tmp_path_factory, ticks, tick):
    price = round(ticks * 0.001 if tick == 0.001 else (ticks % 99 + 1) * 0.01, 6)
    data = tmp_path_factory.mktemp("wh")
    lake = Lake(data)
    lake.write(
        "markets_current",
        pa.Table.from_pylist([_market("m", "Yes", "No", tick)], schema=MARKET_CURRENT_SCHEMA),
        {},
        "c",
    )
    lake.write(
        "trades",
        pa.Table.from_pylist([_trade("x", "m", "No", 1, "BUY", price, 1.0)], schema=TRADES_SCHEMA),
        PARTS,
        "t",
    )
    build_warehouse(data, [v for v in tables.views() if v.name in ("markets", "trades")])
    con = connect_read_only(data)
    try:
        yes_price, yes_side = con.execute("SELECT yes_price, yes_side FROM trades").fetchone()
    finally:
        con.close()
    assert yes_side == "SELL"
    assert yes_price == round(1 - price, 6)
    assert abs(yes_price / tick - round(yes_price / tick)) < 1e-9
