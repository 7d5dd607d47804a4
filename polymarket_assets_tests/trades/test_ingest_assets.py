"""The ingestion assets on small data: idempotent, de-duplicated, enriched, and visible through the views."""

from __future__ import annotations

import json

import dagster as dg
import duckdb
import pyarrow as pa
import pytest

from polymarket_assets.defs.trades.assets import book_updates, trades, whale_events, ws_gaps, ws_raw_frames
from polymarket_assets.lib import tables
from polymarket_assets.lib.parquet_store import Lake
from polymarket_assets.lib.schemas import MARKET_CURRENT_SCHEMA
from polymarket_assets.lib.trades.whales import classify, classify_trade
from polymarket_assets.lib.warehouse import build_warehouse

from .conftest import CID, HOUR, NO, YES, api_trade, book_update, resources, write, ws_trade

PK = "2026-11-24-10:00"


def seed_market(data_dir, outcomes=("Yes", "No")):
    Lake(data_dir).replace_partition(
        "markets_current",
        pa.Table.from_pylist(
            [
                {
                    "condition_id": CID,
                    "yes_token_id": YES,
                    "no_token_id": NO,
                    "yes_outcome": "Yes",
                    "no_outcome": "No",
                    "outcomes": json.dumps(list(outcomes)),
                    "discovery_status": "open",
                }
            ],
            schema=MARKET_CURRENT_SCHEMA,
        ),
        {},
    )


def rel(path) -> str:
    return f"{path.parent.parent.name}/{path.parent.name}/{path.name}"


def run(assets, data_dir, config: dict | None = None, partition_key: str = PK):
    result = dg.materialize(
        assets,
        partition_key=partition_key,
        resources=resources(data_dir),
        run_config={"ops": config or {}},
        raise_on_error=True,
    )
    assert result.success
    return result


def lake_trades(data_dir) -> list[dict]:
    table = Lake(data_dir).read("trades")
    return table.to_pylist() if table is not None else []


def test_ws_trades_of_a_no_yes_market_get_the_listed_outcome_index(data_dir):
    """A market listed ["No", "Yes"]: a websocket trade of the Yes token is outcome "Yes" at index 1, the
    index the Data API gives the same trade (before, the yes side was always index 0)."""
    seed_market(data_dir, outcomes=("No", "Yes"))
    [f1] = write(
        data_dir,
        "trades",
        [
            ws_trade("ws-yes", HOUR * 1000 + 10, price=0.3, size=10.0),
            ws_trade("ws-no", HOUR * 1000 + 20, price=0.7, size=10.0, asset=NO),
        ],
    )
    run([trades], data_dir, {"trades": {"config": {"files": [rel(f1)]}}})
    rows = {r["trade_uid"]: r for r in lake_trades(data_dir)}
    assert (rows["ws-yes"]["outcome"], rows["ws-yes"]["outcome_index"]) == ("Yes", 1)
    assert (rows["ws-no"]["outcome"], rows["ws-no"]["outcome_index"]) == ("No", 0)


def test_trades_are_merged_once_per_uid_with_notional_and_outcome(data_dir):
    seed_market(data_dir)
    [f1] = write(
        data_dir,
        "trades",
        [
            ws_trade("ws-1", HOUR * 1000 + 10, price=0.02, size=2000.0),
            ws_trade("ws-2", HOUR * 1000 + 20, price=0.4, size=25.0, asset=NO),
        ],
    )
    [f2] = write(
        data_dir,
        "trades",
        [api_trade("api-1", HOUR + 30), ws_trade("ws-1", HOUR * 1000 + 10, price=0.02, size=2000.0)],
    )
    result = run([trades], data_dir, {"trades": {"config": {"files": [rel(f1), rel(f2)]}}})
    rows = {r["trade_uid"]: r for r in lake_trades(data_dir)}
    assert sorted(rows) == ["api-1", "ws-1", "ws-2"]
    assert rows["ws-1"]["notional_usd"] == pytest.approx(40.0) and rows["ws-1"]["outcome"] == "Yes"
    assert rows["ws-2"]["outcome"] == "No" and rows["ws-2"]["outcome_index"] == 1
    assert rows["api-1"]["transaction_hash"] == "0xtx" and rows["api-1"]["source"] == "data_api"
    assert rows["ws-1"]["incoming_file"] == rel(f1), "the first receipt of a uid is kept"
    mat = result.asset_materializations_for_node("trades")[0]
    assert mat.metadata["duplicates_dropped"].value == 1 and mat.metadata["dagster/row_count"].value == 3
    [check] = result.get_asset_check_evaluations()
    assert check.passed

    # The same files again (a retried run or a re-sent request): nothing changes.
    run([trades], data_dir, {"trades": {"config": {"files": [rel(f2), rel(f1)]}}})
    assert sorted(r["trade_uid"] for r in lake_trades(data_dir)) == ["api-1", "ws-1", "ws-2"]
    # A later file merges into the partition; a run without files rebuilds it from every file of the hour.
    [f3] = write(data_dir, "trades", [ws_trade("ws-3", HOUR * 1000 + 40)])
    run([trades], data_dir, {"trades": {"config": {"files": [rel(f3)]}}})
    assert len(lake_trades(data_dir)) == 4
    run([trades], data_dir)
    assert sorted(r["trade_uid"] for r in lake_trades(data_dir)) == ["api-1", "ws-1", "ws-2", "ws-3"]
    # Identities that are not this hour's trade files are refused, never read.
    run(
        [trades],
        data_dir,
        {"trades": {"config": {"files": ["trades/../../etc/passwd", rel(f3).replace("T10", "T11")]}}},
    )
    assert len(lake_trades(data_dir)) == 4


def test_book_updates_and_raw_frames_are_linked_gaps_merged_and_every_view_answers(data_dir):
    seed_market(data_dir)
    [b] = write(
        data_dir,
        "book_updates",
        [
            (
                HOUR * 10**6,
                HOUR * 1000 + 1,
                "r",
                "c00",
                1,
                YES,
                CID,
                "snapshot",
                "rest",
                None,
                None,
                None,
                [(0.4, 5.0)],
                [(0.6, 5.0)],
                "h",
                0.4,
                0.6,
                0.01,
            )
        ],
    )
    [raw] = write(data_dir, "raw_frames", [(HOUR * 10**6 + 5, "r", "c00", 2, '{"event_type":"book"}')])
    gap = (
        "g1",
        "r",
        "c00",
        HOUR * 1000 + 5,
        HOUR * 1000 + 65_000,
        "disconnect",
        "reset",
        40,
        None,
        HOUR * 10**6,
    )
    [g1] = write(data_dir, "ws_gaps", [gap])
    [g2] = write(
        data_dir,
        "ws_gaps",
        [
            gap,
            ("g2", "r", "recorder", HOUR * 1000 + 100_000, HOUR * 1000 + 130_000, "restart", "x", 0, None, 0),
        ],
    )
    config = {
        "book_updates": {"config": {"files": [rel(b)]}},
        "ws_raw_frames": {"config": {"files": [rel(raw)]}},
        "ws_gaps": {"config": {"files": [rel(g1), rel(g2)]}},
    }
    inode = b.stat().st_ino
    for _ in range(2):  # the second run finds its files ingested and removed from incoming/: a no-op
        run([book_updates, ws_raw_frames, ws_gaps], data_dir, config)
    linked = list((data_dir / "lake" / "book_updates").rglob("*.parquet"))
    assert [p.name for p in linked] == [b.name] and linked[0].stat().st_ino == inode, (
        "a hard link, not a copy"
    )
    assert not b.exists() and not raw.exists() and not g1.exists(), "ingested files leave incoming/"
    assert [p.name for p in (data_dir / "raw" / "ws_market").rglob("*.parquet")] == [raw.name]
    assert sorted(r["gap_id"] for r in Lake(data_dir).read("ws_gaps").to_pylist()) == ["g1", "g2"]

    [t] = write(data_dir, "trades", [ws_trade("ws-1", HOUR * 1000 + 10)])
    run([trades], data_dir, {"trades": {"config": {"files": [rel(t)]}}})
    build_warehouse(data_dir, tables.views())
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    try:
        cols = [d[0] for d in con.execute("SELECT * FROM trades LIMIT 0").description]
        assert cols[:9] == [
            "asset_id",
            "condition_id",
            "outcome",
            "price",
            "size",
            "side",
            "notional_usd",
            "exchange_ts",
            "received_at",
        ]
        types = dict(
            con.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'trades'"
            ).fetchall()
        )
        assert (
            types["exchange_ts"] == "TIMESTAMP WITH TIME ZONE"
            and types["received_at"] == "TIMESTAMP WITH TIME ZONE"
        )
        assert con.execute("SELECT count(*), sum(notional_usd) FROM trades").fetchone() == (1, 5.0)
        assert con.execute(
            "SELECT connection_id, reason, seconds FROM ws_gaps ORDER BY start_ts"
        ).fetchall() == [
            ("c00", "disconnect", pytest.approx(64.995)),
            ("recorder", "restart", pytest.approx(30.0)),
        ]
        assert con.execute("SELECT kind, source, best_bid FROM book_updates").fetchall() == [
            ("snapshot", "rest", 0.4)
        ]
        assert con.execute("SELECT count(*) FROM whale_events").fetchone() == (0,)
    finally:
        con.close()


def test_whales_are_classified_on_usd_notional_never_on_shares():
    assert classify_trade(2000.0, 0.02) is None  # $40 at 2¢: a big share count, not a whale
    assert classify_trade(2000.0, 0.5) == ("1k", 1000.0)
    assert classify(4999.99) == ("1k", 1000.0) and classify(5000.0) == ("5k", 5000.0)
    assert classify(250_000.0) == ("25k", 25000.0)
    assert classify(1500.0, [500.0, 2000.0]) == ("500", 500.0)


def test_whale_events_with_tiers_market_percentile_and_price_impact(data_dir):
    seed_market(data_dir)
    t0 = HOUR * 1000 + 600_000  # 10:10
    retail = [ws_trade(f"r{i}", HOUR * 1000 + i * 1000, price=0.5, size=20.0 + i) for i in range(200)]
    big = [
        ws_trade("shares", t0, price=0.02, size=50_000.0),  # $1,000 exactly, at 2¢
        ws_trade("whale5k", t0 + 1000, price=0.5, size=12_000.0),  # $6,000
        ws_trade("tiny", t0 + 2000, price=0.02, size=2000.0),  # $40
        ws_trade("sell30k", t0 + 3000, price=0.6, size=50_000.0, side="SELL"),  # $30,000
    ]
    [f] = write(data_dir, "trades", retail + big)
    run([trades], data_dir, {"trades": {"config": {"files": [rel(f)]}}})

    def book(ts_ms, bid, ask, seq):
        return book_update(ts_ms, seq, price=bid, best_bid=bid, best_ask=ask)

    books = [
        book(t0 - 5000, 0.48, 0.52, 1),
        book(t0 + 30_000, 0.50, 0.54, 2),
        book(t0 + 30_000, 0.51, 0.55, 3),
        book(t0 + 200_000, 0.40, 0.44, 4),
    ]
    [bf] = write(data_dir, "book_updates", books)
    run([book_updates], data_dir, {"book_updates": {"config": {"files": [rel(bf)]}}})
    result = run([whale_events], data_dir)
    events = {e["trade_uid"]: e for e in Lake(data_dir).read("whale_events").to_pylist()}
    assert sorted(events) == ["sell30k", "shares", "whale5k"]
    assert (
        events["shares"]["whale_tier"],
        events["whale5k"]["whale_tier"],
        events["sell30k"]["whale_tier"],
    ) == ("1k", "5k", "25k")
    assert events["sell30k"]["market_outlier"] and events["sell30k"]["market_pct_rank"] == 1.0
    assert events["sell30k"]["market_trades"] == 204
    w = events["whale5k"]
    assert w["mid_before"] == pytest.approx(0.50)
    assert w["mid_1m"] == pytest.approx(0.53), (
        "the last row of a timestamp is the book after the whole message"
    )
    assert w["impact_1m"] == pytest.approx(0.03) and w["mid_5m"] == pytest.approx(0.42)
    assert w["impact_5m"] == pytest.approx(-0.08)
    assert events["sell30k"]["impact_5m"] == pytest.approx(0.08), (
        "a SELL followed by a falling price has positive impact"
    )
    assert w["last_price_1m"] == pytest.approx(0.6)  # the SELL at 0.6 two seconds later
    mat = result.asset_materializations_for_node("whale_events")[0]
    assert mat.metadata["tier_25k"].value == 1 and mat.metadata["dagster/row_count"].value == 3


def test_an_hour_with_no_new_files_merges_to_the_existing_rows_unchanged():
    from polymarket_assets.lib.quarantine import Quarantine
    from polymarket_assets.lib.schemas import TRADES_SCHEMA
    from polymarket_assets.lib.trades.ingest import load_incoming
    from polymarket_assets.lib.trades.merge import merge_trades

    empty = load_incoming("/nonexistent", "trades", [], Quarantine("/nonexistent", "ws_ingest")).table
    assert empty.schema.names.count("incoming_file") == 1
    first, _ = merge_trades(None, empty, None, 1)
    assert first.num_rows == 0 and first.schema.names == TRADES_SCHEMA.names


def test_trades_carry_the_taker_fee_of_their_market_schedule(data_dir):
    other = "0x" + "d2" * 32
    Lake(data_dir).replace_partition(
        "markets_current",
        pa.Table.from_pylist(
            [
                {
                    "condition_id": CID,
                    "yes_token_id": YES,
                    "no_token_id": NO,
                    "yes_outcome": "Yes",
                    "no_outcome": "No",
                    "discovery_status": "open",
                    "fees_enabled": True,
                    "fee_type": "crypto_fees",
                    "fee_rate": 0.07,
                    "fee_exponent": 1.0,
                    "fee_taker_only": True,
                    "fee_rebate_rate": 0.2,
                },
                {
                    "condition_id": other,
                    "yes_token_id": "3" * 77,
                    "no_token_id": "4" * 77,
                    "discovery_status": "open",
                    "fees_enabled": False,
                    "fee_type": None,
                },
            ],
            schema=MARKET_CURRENT_SCHEMA,
        ),
        {},
    )
    unknown = "0x" + "e3" * 32
    rows = [
        ws_trade("ws-1", HOUR * 1000 + 10, price=0.456, size=219.217767),
        ws_trade("ws-2", HOUR * 1000 + 20, price=0.3, size=10.0),
    ]
    rows += [
        (
            "ws-3",
            "ws",
            "3" * 77,
            other,
            "BUY",
            0.5,
            100.0,
            0.0,
            HOUR * 1000 + 30,
            HOUR * 10**6,
            None,
            None,
            None,
            "c00",
            "r1",
        ),
        (
            "ws-4",
            "ws",
            "5" * 77,
            unknown,
            "BUY",
            0.5,
            100.0,
            0.0,
            HOUR * 1000 + 40,
            HOUR * 10**6,
            None,
            None,
            None,
            "c00",
            "r1",
        ),
    ]
    [f1] = write(data_dir, "trades", rows)
    run([trades], data_dir, {"trades": {"config": {"files": [rel(f1)]}}})
    fees = {r["trade_uid"]: r["fee_usd"] for r in lake_trades(data_dir)}
    # 219.217767 × 0.07 × 0.456 × 0.544 = 3.80660253… → 3.8066; 10 × 0.07 × 0.3 × 0.7 = 0.147
    assert fees == {"ws-1": 3.8066, "ws-2": 0.147, "ws-3": 0.0, "ws-4": None}
    # A later schedule change does not rewrite the fees of trades already ingested under the old one.
    Lake(data_dir).replace_partition(
        "markets_current",
        pa.Table.from_pylist(
            [
                {
                    "condition_id": CID,
                    "yes_token_id": YES,
                    "no_token_id": NO,
                    "discovery_status": "open",
                    "fees_enabled": False,
                }
            ],
            schema=MARKET_CURRENT_SCHEMA,
        ),
        {},
    )
    [f2] = write(data_dir, "trades", [ws_trade("ws-5", HOUR * 1000 + 50, price=0.5, size=10.0)])
    run([trades], data_dir, {"trades": {"config": {"files": [rel(f2)]}}})
    fees = {r["trade_uid"]: r["fee_usd"] for r in lake_trades(data_dir)}
    assert fees["ws-1"] == 3.8066 and fees["ws-5"] == 0.0
    build_warehouse(data_dir, tables.views())
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT sum(fee_usd), count(fee_usd) FROM trades").fetchone() == (
            pytest.approx(3.9536),
            4,
        )
    finally:
        con.close()
