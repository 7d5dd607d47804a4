"""parse_ws_frame on every WS sample, the three price_change schemas, arrays, PONG, unknowns and garbage."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polymarket_assets.lib.errors import ParseError
from polymarket_assets.lib.ws_messages import (
    BestBidAskEvent,
    BookEvent,
    LastTradePriceEvent,
    LevelChange,
    MarketResolvedEvent,
    NewMarketEvent,
    PongEvent,
    PriceChangeEvent,
    TickSizeChangeEvent,
    UnknownEvent,
    parse_ws_frame,
)
from polymarket_assets_tests.lib.conftest import SAMPLES_DIR, sample_text
from polymarket_assets_tests.time_contract import PLACEHOLDER_TIME_SAMPLES

EXPECTED_TYPES = {
    "docs_example_ws_best_bid_ask.json": BestBidAskEvent,
    "docs_example_ws_book.json": BookEvent,
    "docs_example_ws_last_trade_price.json": LastTradePriceEvent,
    "docs_example_ws_market_resolved.json": MarketResolvedEvent,
    "docs_example_ws_new_market.json": NewMarketEvent,
    "docs_example_ws_price_change_legacy_v1_changes_TRANSCRIBED.json": PriceChangeEvent,
    "docs_example_ws_price_change_v2.json": PriceChangeEvent,
    "docs_example_ws_tick_size_change.json": TickSizeChangeEvent,
    "ws_market_book_trump2024_no_token_2024-10.json": BookEvent,
    "ws_market_last_trade_price_trump2024_2024-08.json": LastTradePriceEvent,
    "ws_market_price_change_schema_v0_per_level_2024-08.json": PriceChangeEvent,
    "ws_market_tick_size_change_2025-02.json": TickSizeChangeEvent,
    # Client → server subscription messages: no event_type, so "unknown" if one were ever echoed.
    "docs_example_ws_market_subscribe.json": UnknownEvent,
    "docs_example_ws_market_subscribe_with_ids.json": UnknownEvent,
    "docs_example_ws_dynamic_subscribe.json": UnknownEvent,
    "docs_example_ws_dynamic_unsubscribe.json": UnknownEvent,
}


def test_every_ws_sample_is_covered():
    names = {p.name for p in SAMPLES_DIR.glob("*ws_*.json")}
    assert names == set(EXPECTED_TYPES)


@pytest.mark.parametrize("name, cls", sorted(EXPECTED_TYPES.items()))
def test_every_ws_sample_parses(name, cls, request):
    if name in PLACEHOLDER_TIME_SAMPLES:
        request.getfixturevalue("placeholder_times")
    events = parse_ws_frame(sample_text(name))
    assert len(events) == 1 and type(events[0]) is cls


def one(name: str):
    (event,) = parse_ws_frame(sample_text(name))
    return event


def test_price_change_current_schema_carries_both_tokens():
    e = one("docs_example_ws_price_change_v2.json")
    assert (e.schema, e.market, e.timestamp_ms) == (
        "v2",
        "0x5f65177b394277fd294cd75650044e32ba009a95022d88a0c1d565897d72f8f1",
        1757908892351,
    )
    assert e.changes == (
        LevelChange(
            "71321045679252212594626385532706912750332728571942532289631379312455583992563",
            0.5,
            200.0,
            "BUY",
            "56621a121a47ed9333273e21c83b660cff37ae50",
            0.5,
            1.0,
        ),
        LevelChange(
            "52114319501245915516055106046884209969926127482827954674443846427813813222426",
            0.5,
            200.0,
            "SELL",
            "1895759e4df7a796bf4f1c5a5950b748306923e2",
            0.0,
            0.5,
        ),
    )


def test_price_change_legacy_v1_schema():
    e = one("docs_example_ws_price_change_legacy_v1_changes_TRANSCRIBED.json")
    assert e.schema == "v1" and e.timestamp_ms == 1729084877448
    assert e.changes == (
        LevelChange(
            "71321045679252212594626385532706912750332728571942532289631379312455583992563",
            0.4,
            3300.0,
            "SELL",
            "3cd4d61e042c81560c9037ece0c61f3b1a8fbbdd",
        ),
    )


def test_price_change_legacy_v0_schema():
    e = one("ws_market_price_change_schema_v0_per_level_2024-08.json")
    assert e.schema == "v0" and e.timestamp_ms == 1723967931411
    assert e.changes == (
        LevelChange(
            "48331043336612883890938759509493159234755048973500640148014422747788308965732",
            0.514,
            21574.08,
            "SELL",
            "bf32b3746fff40c76c98021b7f3f07261169dd26",
        ),
    )


def test_last_trade_price_is_the_trade_feed():
    e = one("ws_market_last_trade_price_trump2024_2024-08.json")
    assert (e.asset_id, e.price, e.size, e.side, e.fee_rate_bps, e.timestamp_ms) == (
        "21742633143463906290569050155826241533067272736897614950488156847949938836455",
        0.491,
        85.36,
        "SELL",
        0.0,
        1724564136087,
    )
    assert e.notional_usd == pytest.approx(0.491 * 85.36)


def test_tick_size_change_keeps_the_78_digit_token():
    e = one("ws_market_tick_size_change_2025-02.json")
    assert e.asset_id == "115474063863764126958837769719736461272619491980773624567012766320777398670353"
    assert (e.old_tick_size, e.new_tick_size, e.timestamp_ms) == (0.01, 0.001, 1739068041853)


def test_best_bid_ask_new_market_and_resolution():
    b = one("docs_example_ws_best_bid_ask.json")
    assert (b.best_bid, b.best_ask, b.spread, b.timestamp_ms) == (0.73, 0.77, 0.04, 1766789469958)
    r = one("docs_example_ws_market_resolved.json")
    assert (
        r.winning_asset_id == "76043073756653678226373981964075571318267289248134717369284518995922789326425"
    )
    assert r.winning_outcome == "Yes" and r.outcomes == ("Yes", "No") and len(r.asset_ids) == 2
    assert (r.market_id, r.event_id, r.event_slug) == ("1031769", "125819", "nvda-above-in-january-2026")
    n = one("docs_example_ws_new_market.json")
    assert n.question.startswith("Will NVIDIA") and n.timestamp_ms == 1766790415550


def test_array_frames_pong_and_unknown_types(placeholder_times):
    book = json.loads(sample_text("docs_example_ws_book.json"))
    trade = json.loads(sample_text("docs_example_ws_last_trade_price.json"))
    events = parse_ws_frame(json.dumps([book, trade, {"event_type": "brand_new", "x": 1}]))
    assert [type(e) for e in events] == [BookEvent, LastTradePriceEvent, UnknownEvent]
    assert events[2].event_type_name == "brand_new" and events[2].raw["x"] == 1
    assert parse_ws_frame("[]") == []
    assert parse_ws_frame("PONG") == [PongEvent()]
    assert parse_ws_frame(b" PONG\n") == [PongEvent()]


def test_unknown_fields_and_number_typed_values_are_accepted():
    trade = json.loads(sample_text("docs_example_ws_last_trade_price.json"))
    trade.update(price=0.456, timestamp=1750428146322, some_new_field={"a": [1]})
    (e,) = parse_ws_frame(json.dumps(trade))
    assert (e.price, e.timestamp_ms) == (0.456, 1750428146322)


@pytest.mark.parametrize(
    "frame, reason",
    [
        ("", "empty"),
        ("{not json", "not valid JSON"),
        ("42", "JSON int"),
        ('"PONG"', "JSON str"),
        ("[1, 2]", "must be an object"),
        ('{"event_type": "book", "market": "0x' + "a" * 64 + '"}', "book: asset_id"),
        ('{"event_type": "price_change", "market": "0x' + "a" * 64 + '", "timestamp": "1"}', "neither"),
        (
            '{"event_type": "last_trade_price", "asset_id": "1", "market": "0x'
            + "a" * 64
            + '", "price": "2", "size": "1", "side": "BUY", "timestamp": "1"}',
            "price",
        ),
        (
            '{"event_type": "tick_size_change", "asset_id": "1", "market": "0x'
            + "a" * 64
            + '", "new_tick_size": "0", "timestamp": "1"}',
            "new_tick_size",
        ),
        ("[" * 5000, "not valid JSON"),
    ],
)
def test_malformed_frames_raise_parse_error(frame, reason):
    with pytest.raises(ParseError, match=reason):
        parse_ws_frame(frame)


REAL_FRAMES = [sample_text(name) for name in sorted(EXPECTED_TYPES)]


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.text(max_size=200),
        st.sampled_from(REAL_FRAMES).flatmap(
            lambda text: st.tuples(
                st.integers(0, len(text)), st.integers(0, len(text)), st.text(max_size=20)
            ).map(lambda cut: text[: cut[0]] + cut[2] + text[cut[1] :])
        ),
    )
)
def test_arbitrary_text_raises_nothing_but_parse_error(text):
    try:
        events = parse_ws_frame(text)
    except ParseError as exc:
        assert exc.reason
    else:
        assert isinstance(events, list)


json_leaf = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
json_values = st.recursive(
    json_leaf,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
    max_leaves=12,
)
KNOWN = [
    "book",
    "price_change",
    "last_trade_price",
    "tick_size_change",
    "best_bid_ask",
    "new_market",
    "market_resolved",
]


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(REAL_FRAMES),
    st.dictionaries(
        st.sampled_from(
            [
                "event_type",
                "market",
                "asset_id",
                "timestamp",
                "price",
                "size",
                "side",
                "bids",
                "asks",
                "price_changes",
                "changes",
                "hash",
                "new_tick_size",
                "old_tick_size",
                "best_bid",
                "assets_ids",
                "outcomes",
                "event_message",
                "winning_asset_id",
                "fee_rate_bps",
                "id",
            ]
        ),
        json_values | st.sampled_from(KNOWN),
        min_size=1,
        max_size=3,
    ),
)
def test_mutated_real_messages_raise_nothing_but_parse_error(frame, changes):
    msg = json.loads(frame)
    msg.update(changes)
    try:
        parse_ws_frame(json.dumps(msg))
    except ParseError:
        pass


DELETE = object()
NASTY = [
    DELETE,
    None,
    True,
    False,
    0,
    -1,
    10**400,
    1e308,
    float("nan"),
    "",
    "x",
    "-0",
    ".5",
    "1e999",
    "9" * 90,
    "0x" + "g" * 64,
    [],
    [None],
    [{}],
    {},
    {"price": "x"},
    "[" * 3000,
    "\ud800",
]


def _mutations(msg: dict):
    """Every (path, value) replacement: top-level keys, and the keys of the first nested level/change entry."""
    for key in list(msg):
        for value in NASTY:
            yield (key,), value
        nested = msg[key]
        if isinstance(nested, list) and nested and isinstance(nested[0], dict):
            for sub in list(nested[0]):
                for value in NASTY:
                    yield (key, sub), value


def _apply(msg: dict, path: tuple, value) -> dict:
    out = json.loads(json.dumps(msg))
    target = out if len(path) == 1 else out[path[0]][0]
    if value is DELETE:
        target.pop(path[-1], None)
    else:
        target[path[-1]] = value
    return out


@pytest.mark.parametrize("name", sorted(n for n, cls in EXPECTED_TYPES.items() if cls is not UnknownEvent))
def test_every_field_with_every_nasty_value_raises_only_parse_error(name):
    msg = json.loads(sample_text(name))
    if len(msg.get("bids", [])) > 3:
        msg["bids"], msg["asks"] = msg["bids"][:3], msg["asks"][:3]  # same shape, fewer repeats
    for path, value in _mutations(msg):
        mutated = _apply(msg, path, value)
        for frame in (json.dumps(mutated), json.dumps([mutated])):
            try:
                parse_ws_frame(frame)
            except ParseError:
                pass
