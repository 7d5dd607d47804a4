"""Every WS sample in polymarket_assets_tests/real_samples through the recorder's frame processor, with the rows it must give.

Recorded messages are replayed as frames (the cryptofeed/nautilus way): alone, batched in an array frame,
and mixed with PONG, unknown and malformed frames.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pyarrow.parquet as pq
import pytest

from polymarket_assets.lib.incoming import (
    INCOMING_BOOK_UPDATES_SCHEMA,
    INCOMING_RAW_FRAMES_SCHEMA,
    INCOMING_TRADES_SCHEMA,
)
from polymarket_assets.lib.quarantine import Quarantine
from polymarket_assets_tests.samples import SAMPLES_DIR
from polymarket_assets_tests.time_contract import PLACEHOLDER_TIME_SAMPLES
from ws_sidecar import files
from ws_sidecar.connection import dynamic_message, subscribe_message
from ws_sidecar.processor import FrameProcessor

SAMPLES = SAMPLES_DIR
WS_SAMPLES = sorted(p.name for p in SAMPLES.glob("ws_*.json")) + sorted(
    p.name for p in SAMPLES.glob("docs_example_ws_*.json")
)
CLIENT_MESSAGES = {
    "docs_example_ws_market_subscribe.json",
    "docs_example_ws_market_subscribe_with_ids.json",
    "docs_example_ws_dynamic_subscribe.json",
    "docs_example_ws_dynamic_unsubscribe.json",
}
BOOK_COLUMNS = files.BOOK_ROW
TRADE_COLUMNS = INCOMING_TRADES_SCHEMA.names


def text(name: str) -> str:
    return (SAMPLES / name).read_text(encoding="utf-8")


def obj(name: str) -> dict:
    return json.loads(text(name))


def processor(tmp_path=None, **kwargs) -> FrameProcessor:
    quarantine = Quarantine(tmp_path, "ws_market") if tmp_path is not None else None
    return FrameProcessor("abcd1234", "c00", quarantine=quarantine, **kwargs)


def tracked(p: FrameProcessor, *messages: dict) -> FrameProcessor:
    """Carry the messages' assets with empty, synced books (as after a reseed of empty books)."""
    for m in messages:
        assets = [m["asset_id"]] if "asset_id" in m else [c["asset_id"] for c in m.get("price_changes", [])]
        for a in assets:
            p.track(a, m["market"].lower())
            p.books[a].replace((), (), None, 0, None, rest=False)
    return p


def as_dicts(rows, columns) -> list[dict]:
    return [dict(zip(columns, r)) for r in rows]


def test_every_ws_sample_is_covered_here():
    covered = CLIENT_MESSAGES | {
        "ws_market_book_trump2024_no_token_2024-10.json",
        "docs_example_ws_book.json",
        "ws_market_last_trade_price_trump2024_2024-08.json",
        "docs_example_ws_last_trade_price.json",
        "ws_market_price_change_schema_v0_per_level_2024-08.json",
        "docs_example_ws_price_change_legacy_v1_changes_TRANSCRIBED.json",
        "docs_example_ws_price_change_v2.json",
        "ws_market_tick_size_change_2025-02.json",
        "docs_example_ws_tick_size_change.json",
        "docs_example_ws_best_bid_ask.json",
        "docs_example_ws_new_market.json",
        "docs_example_ws_market_resolved.json",
    }
    # A new sample in the folder must get its own expectations here.
    assert set(WS_SAMPLES) == covered


@pytest.mark.parametrize(
    "name", ["ws_market_book_trump2024_no_token_2024-10.json", "docs_example_ws_book.json"]
)
def test_book_samples_replace_the_local_book_and_give_one_snapshot_row(name, request):
    if name in PLACEHOLDER_TIME_SAMPLES:
        request.getfixturevalue("placeholder_times")
    msg = obj(name)
    msg.setdefault("event_type", "book")  # the nautilus capture lacks event_type; the channel sends it
    p = tracked(processor(), msg)
    p.process(json.dumps(msg), 1_000_000)
    [row] = as_dicts(p.book_rows, BOOK_COLUMNS)
    bids = [(float(x["price"]), float(x["size"])) for x in msg["bids"]]
    asks = [(float(x["price"]), float(x["size"])) for x in msg["asks"]]
    assert row["kind"] == "snapshot" and row["source"] == "ws"
    assert row["asset_id"] == msg["asset_id"] and row["condition_id"] == msg["market"].lower()
    assert row["exchange_ts"] == int(msg["timestamp"]) and row["received_at"] == 1_000_000
    assert row["bids"] == bids and row["asks"] == asks
    # Best prices whatever the wire order (bids ascending, asks descending on the real feed).
    assert row["best_bid"] == max(p for p, _ in bids) and row["best_ask"] == min(p for p, _ in asks)
    book = p.books[msg["asset_id"]]
    assert book.synced and book.hash == msg["hash"] and len(book.bids) == len({p for p, _ in bids})
    assert p.trades == [] and p.resync == {}


@pytest.mark.parametrize(
    "name", ["ws_market_last_trade_price_trump2024_2024-08.json", "docs_example_ws_last_trade_price.json"]
)
def test_last_trade_price_samples_become_trade_rows(name):
    msg = obj(name)
    seen = []
    p = processor(on_trade=lambda *args: seen.append(args))
    p.process(text(name), 5_000_000)
    [row] = as_dicts(p.trades, TRADE_COLUMNS)
    assert row["source"] == "ws" and row["trade_uid"].startswith("ws-abcd1234-")
    assert (row["asset_id"], row["condition_id"], row["side"]) == (
        msg["asset_id"],
        msg["market"],
        msg["side"],
    )
    assert row["price"] == float(msg["price"]) and row["size"] == float(msg["size"])
    assert row["fee_rate_bps"] == float(msg["fee_rate_bps"])
    assert row["exchange_ts"] == int(msg["timestamp"]) and row["received_at"] == 5_000_000
    assert row["connection_id"] == "c00" and row["transaction_hash"] is None
    assert seen == [
        (
            msg["market"],
            int(msg["timestamp"]),
            msg["asset_id"],
            msg["side"],
            float(msg["size"]),
            float(msg["price"]),
            row["trade_uid"],
        )
    ]
    assert p.watermark_ms == int(msg["timestamp"])


def test_price_change_v0_per_level_sample():
    msg = obj("ws_market_price_change_schema_v0_per_level_2024-08.json")
    p = tracked(processor(), msg)
    p.process(json.dumps(msg), 1)
    [row] = as_dicts(p.book_rows, BOOK_COLUMNS)
    assert (row["kind"], row["side"], row["price"], row["size"]) == ("change", "SELL", 0.514, 21574.08)
    assert row["hash"] == msg["hash"] and row["best_ask"] == 0.514 and row["best_bid"] is None
    assert p.books[msg["asset_id"]].asks == {0.514: 21574.08}


def test_price_change_legacy_v1_sample():
    msg = obj("docs_example_ws_price_change_legacy_v1_changes_TRANSCRIBED.json")
    p = tracked(processor(), msg)
    p.process(text("docs_example_ws_price_change_legacy_v1_changes_TRANSCRIBED.json"), 1)
    [row] = as_dicts(p.book_rows, BOOK_COLUMNS)
    assert (row["asset_id"], row["side"], row["price"], row["size"]) == (msg["asset_id"], "SELL", 0.4, 3300.0)
    assert row["hash"] == msg["hash"]


def test_price_change_v2_sample_carries_both_tokens_and_is_checked_against_the_books():
    name = "docs_example_ws_price_change_v2.json"
    msg = obj(name)
    p = tracked(processor(), msg)
    p.process(text(name), 1)
    rows = as_dicts(p.book_rows, BOOK_COLUMNS)
    assert [(r["asset_id"], r["side"], r["price"], r["size"]) for r in rows] == [
        (c["asset_id"], c["side"], float(c["price"]), float(c["size"])) for c in msg["price_changes"]
    ]
    # best_bid/best_ask of each entry agree with the book built from the entries ("0"/"1" = empty side).
    assert p.checks == 2 and p.mismatches == 0 and p.resync == {}


def test_price_change_that_disagrees_with_the_local_book_requests_a_resync():
    name = "docs_example_ws_price_change_v2.json"
    msg = obj(name)
    p = tracked(processor(), msg)
    first = msg["price_changes"][0]["asset_id"]
    p.books[first].replace([(0.55, 10.0)], (), "h", 0, None, rest=False)  # a bid above the reported best
    p.books[first].checked_us = 7
    p.process(text(name), 9)
    assert p.mismatches == 1 and p.resync == {first: ("best price mismatch", 7)}


@pytest.mark.parametrize(
    "name", ["ws_market_tick_size_change_2025-02.json", "docs_example_ws_tick_size_change.json"]
)
def test_tick_size_change_samples(name, request):
    if name in PLACEHOLDER_TIME_SAMPLES:
        request.getfixturevalue("placeholder_times")
    msg = obj(name)
    p = tracked(processor(), msg)
    p.process(text(name), 1)
    [row] = as_dicts(p.book_rows, BOOK_COLUMNS)
    assert row["kind"] == "tick_size" and row["tick_size"] == float(msg["new_tick_size"])
    assert p.books[msg["asset_id"]].tick_size == float(msg["new_tick_size"])


def test_best_bid_ask_sample_is_checked_against_the_local_book():
    name = "docs_example_ws_best_bid_ask.json"
    msg = obj(name)
    p = tracked(processor(), msg)
    p.books[msg["asset_id"]].replace([(0.73, 5.0), (0.7, 1.0)], [(0.77, 3.0)], "h", 0, None, rest=False)
    p.process(text(name), 1)
    assert p.checks == 1 and p.mismatches == 0
    p.books[msg["asset_id"]].replace([(0.74, 5.0)], [(0.77, 3.0)], "h", 0, None, rest=False)
    p.process(text(name), 2)
    assert p.mismatches == 1 and msg["asset_id"] in p.resync


@pytest.mark.parametrize("name", ["docs_example_ws_new_market.json", "docs_example_ws_market_resolved.json"])
def test_custom_feature_events_reach_the_recorder(name):
    msg = obj(name)
    events = []
    p = processor(on_market_event=events.append)
    p.process(text(name), 1)
    [event] = events
    assert event.event_type == msg["event_type"] and event.market == msg["market"]
    assert list(event.asset_ids) == msg["assets_ids"]
    if msg["event_type"] == "market_resolved":
        assert event.winning_asset_id == msg["winning_asset_id"]
    assert p.book_rows == [] and p.trades == []


def test_client_messages_match_the_documented_shapes():
    ids = obj("docs_example_ws_market_subscribe_with_ids.json")["assets_ids"]
    assert subscribe_message(ids) == obj("docs_example_ws_market_subscribe_with_ids.json")
    assert set(subscribe_message(["1"])) == set(obj("docs_example_ws_market_subscribe.json"))
    sub = obj("docs_example_ws_dynamic_subscribe.json")
    assert dynamic_message(sub["assets_ids"], "subscribe") == sub
    unsub = obj("docs_example_ws_dynamic_unsubscribe.json")
    assert dynamic_message(unsub["assets_ids"], "unsubscribe") == unsub


def test_array_frames_pong_unknown_and_malformed_frames(tmp_path):
    book = obj("ws_market_book_trump2024_no_token_2024-10.json") | {"event_type": "book"}
    trade = obj("ws_market_last_trade_price_trump2024_2024-08.json")
    p = processor(tmp_path)
    p.track(book["asset_id"], book["market"])
    p.track("123", book["market"])
    # An array frame mixing types, with an unknown event type and unknown fields: all kept, unknowns counted.
    frame = json.dumps(
        [book, trade | {"new_field": 1}, {"event_type": "future_thing", "x": 1}, {"no_type": True}]
    )
    p.process(frame, 10)
    assert p.messages == 4 and len(p.trades) == 1 and len(p.book_rows) == 1
    assert dict(p.unknown) == {"future_thing": 1, "<none>": 1}
    assert len(p.raw) == 1 and p.raw[0][1] == frame
    p.process("PONG", 11)
    assert p.pongs == 1 and len(p.raw) == 1  # PONGs are neither data nor archived
    # A frame cut in half: quarantined with its reason, archived raw, and the market it names is resynced.
    cut = frame[: len(frame) // 3]
    p.process(cut, 12)
    assert p.malformed == 1 and p.quarantine.count == 1
    assert set(p.resync) == {book["asset_id"], "123"} and p.resync["123"] == ("malformed frame", 10)
    written = p.quarantine.flush(datetime.now(UTC))
    [entry] = pq.read_table(written).to_pylist()
    assert entry["raw"] == cut and "not valid JSON" in entry["reason"]
    # A malformed frame naming nothing we know resyncs every book of the connection.
    q = processor(tmp_path)
    q.track("1", "0x" + "a" * 64)
    q.track("2", "0x" + "b" * 64)
    q.process('{"event_type":"price_ch', 20)
    assert set(q.resync) == {"1", "2"}


def test_rows_convert_to_the_incoming_schemas(placeholder_times):
    p = tracked(processor(), obj("docs_example_ws_price_change_v2.json"))
    p.process(text("docs_example_ws_price_change_v2.json"), 1)
    p.process(text("docs_example_ws_last_trade_price.json"), 2)
    book = obj("docs_example_ws_book.json")
    p.track(book["asset_id"], book["market"])
    p.process(text("docs_example_ws_book.json"), 3)
    trades, table, raw = p.take()
    assert files.table_from_rows("trades", trades).num_rows == 1
    assert table.num_rows == 3 and table.schema == INCOMING_BOOK_UPDATES_SCHEMA
    assert table.column("bids").to_pylist()[2][0] == {"price": 0.48, "size": 30.0}
    assert table.column("seq").to_pylist() == [0, 1, 2] and set(
        table.column("connection_id").to_pylist()
    ) == {"c00"}
    assert raw.num_rows == 3 and raw.schema == INCOMING_RAW_FRAMES_SCHEMA
    trades, table, raw = p.take()
    assert (trades, table.num_rows, raw.num_rows) == ([], 0, 0)
    p.process(text("docs_example_ws_book.json"), 4)
    assert p.take()[1].column("seq").to_pylist() == [3], "sequence numbers continue across batches"
