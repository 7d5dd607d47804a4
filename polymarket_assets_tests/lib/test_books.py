"""parse_book and book_metrics: real books (best prices are the LAST entries), and order-free properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polymarket_assets.lib.books import Book, book_metrics, parse_book
from polymarket_assets.lib.errors import ParseError
from polymarket_assets_tests.lib.conftest import load_sample

COND = "0x" + "ab" * 32
TOKEN = "2" * 77


def test_legacy_rest_book_best_prices_are_the_last_entries():
    raw = load_sample("clob_book_legacy_schema_2024-10.json")
    book = parse_book(raw)
    assert book.asset_id == "23360939988679364027624185518382759743328544433592111535569478055890815567848"
    assert book.market == "0x1a4f04c2e6c000d9fc524eb12e7333217411a226c34745af140f195c0227cd5f"
    assert book.timestamp_ms == 1728799418260
    assert book.hash == "2fc4a3d6a98bc164e057589bcb74981852b87412"
    assert book.bids[0] == (0.01, 1000.0) and book.asks[0] == (0.98, 5000.0)  # kept as given
    assert book.tick_size is None and book.neg_risk is None  # fields added in 2025
    m = book_metrics(book)
    assert (m["best_bid"], m["best_ask"]) == (0.1, 0.14)
    assert m["mid"] == pytest.approx(0.12) and m["spread"] == pytest.approx(0.04)
    assert m["bid_depth"] == pytest.approx(1739.0)
    assert m["ask_depth"] == pytest.approx(705 + 70 + 192.3 + 10 + 50)
    assert (m["bid_depth_1c"], m["ask_depth_1c"]) == (0.0, 0.0)
    assert m["bid_depth_5c"] == pytest.approx(120 + 294 + 125) and m["ask_depth_5c"] == pytest.approx(705)
    assert m["imbalance"] == pytest.approx((1739 - 1027.3) / (1739 + 1027.3))
    assert (m["bid_wall_price"], m["bid_wall_size"]) == (0.01, 1000.0)
    assert m["bid_wall_distance"] == pytest.approx(0.11)
    assert (m["ask_wall_price"], m["ask_wall_size"]) == (0.98, 5000.0)
    assert m["ask_wall_distance"] == pytest.approx(0.86)


def test_book_with_empty_bids():
    book = parse_book(load_sample("clob_book_btc_updown_5m_empty_bids_2026-03-22.json"))
    assert book.bids == ()
    assert (book.tick_size, book.min_order_size, book.neg_risk, book.last_trade_price) == (
        0.001,
        5.0,
        False,
        0.999,
    )
    assert book.timestamp_ms == 1774166201606
    m = book_metrics(book)
    assert m["best_bid"] is None and m["best_ask"] == 0.001
    assert m["mid"] is m["spread"] is m["bid_depth_1c"] is m["ask_depth_5c"] is None
    assert m["bid_depth"] == 0.0 and m["imbalance"] == -1.0
    assert m["bid_wall_price"] is None and m["ask_wall_distance"] is None
    assert m["ask_wall_size"] == 1089676.99 and m["ask_levels"] == len(book.asks)


def test_ws_book_sample():
    raw = load_sample("ws_market_book_trump2024_no_token_2024-10.json")
    book = parse_book(raw)
    m = book_metrics(book)
    assert (m["best_bid"], m["best_ask"]) == (0.511, 0.514)
    assert book.bids[-1] == (0.511, 1304.72) and book.asks[-1] == (0.514, 20230.87)
    assert m["mid"] == pytest.approx(0.5125)


def test_docs_book_short_decimals_and_other_order(placeholder_times):
    book = parse_book(load_sample("docs_example_ws_book.json"))
    assert book.bids == ((0.48, 30.0), (0.49, 20.0), (0.5, 15.0))
    m = book_metrics(book)
    assert (m["best_bid"], m["best_ask"]) == (0.5, 0.52)
    assert (
        m["bid_depth_1c"] == 15.0 and m["ask_depth_1c"] == 25.0
    )  # mid 0.51: only 0.50 and 0.52 are within 1c


def test_zero_size_levels_and_duplicate_prices():
    book = Book(COND, TOKEN, 1, None, bids=((0.6, 0.0), (0.4, 1.0), (0.4, 2.0)), asks=((0.7, 5.0),))
    m = book_metrics(book)
    assert m["best_bid"] == 0.4  # the empty 0.6 level is a deletion, not a bid
    assert m["bid_depth"] == 3.0 and m["bid_levels"] == 1


def test_custom_bands_and_depth_levels():
    book = Book(
        COND, TOKEN, 1, None, bids=tuple((0.40 + i / 100, 1.0) for i in range(10)), asks=((0.5, 1.0),)
    )
    m = book_metrics(book, depth_levels=3, bands=(0.005, 0.02))
    assert m["bid_depth"] == 3.0
    assert set(m) >= {"bid_depth_0.5c", "ask_depth_0.5c", "bid_depth_2c", "ask_depth_2c"}
    assert m["bid_depth_2c"] == 2.0  # mid 0.495: bids 0.48 and 0.49


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"bids": [{"price": "1.2", "size": "1"}]}, "bids.price"),
        ({"asks": [{"price": "0.5", "size": "-1"}]}, "negative"),
        ({"asks": [{"price": "0.5"}]}, "missing asks.size"),
        ({"asks": [["0.5", "1"]]}, "not an object"),
        ({"bids": "[]"}, "not a list"),
        ({"asset_id": 123}, "asset_id"),
        ({"asset_id": "12ab"}, "asset_id"),
        ({"market": "0xabc"}, "market"),
        ({"timestamp": "soon"}, "timestamp"),
        ({"timestamp": None}, "missing timestamp"),
        ({"tick_size": "0"}, "tick_size"),
        ({"neg_risk": "maybe"}, "neg_risk"),
    ],
)
def test_bad_books_raise_parse_error(change, reason):
    raw = {**load_sample("clob_book_legacy_schema_2024-10.json"), **change}
    with pytest.raises(ParseError, match=reason):
        parse_book(raw)


def test_non_object_book():
    with pytest.raises(ParseError):
        parse_book([])


# -- properties --------------------------------------------------------------------------------------------------

prices = st.integers(min_value=1, max_value=999).map(lambda n: n / 1000)
sizes = st.floats(min_value=0.01, max_value=1e7, allow_nan=False, allow_infinity=False)
levels = st.lists(st.tuples(prices, sizes), max_size=30)


@st.composite
def books_and_shuffles(draw):
    bids, asks = draw(levels), draw(levels)
    book = Book(COND, TOKEN, 1, None, tuple(bids), tuple(asks))
    shuffled = Book(
        COND, TOKEN, 1, None, tuple(draw(st.permutations(bids))), tuple(draw(st.permutations(asks)))
    )
    return book, shuffled


@settings(max_examples=300, deadline=None)
@given(books_and_shuffles(), st.integers(1, 10))
def test_metrics_do_not_depend_on_level_order(pair, depth):
    book, shuffled = pair
    assert book_metrics(book, depth_levels=depth) == book_metrics(shuffled, depth_levels=depth)


@settings(max_examples=300, deadline=None)
@given(levels, levels, st.integers(1, 10))
def test_best_prices_and_depth_match_a_naive_computation(bids, asks, depth):
    m = book_metrics(Book(COND, TOKEN, 1, None, tuple(bids), tuple(asks)), depth_levels=depth)
    bid_prices, ask_prices = [p for p, _ in bids], [p for p, _ in asks]
    assert m["best_bid"] == (max(bid_prices) if bids else None)
    assert m["best_ask"] == (min(ask_prices) if asks else None)
    assert all(m["best_bid"] >= p for p in bid_prices)
    assert all(m["best_ask"] <= p for p in ask_prices)

    top_bids = sorted(set(bid_prices), reverse=True)[:depth]
    top_asks = sorted(set(ask_prices))[:depth]
    assert m["bid_depth"] == pytest.approx(sum(s for p, s in bids if p in top_bids))
    assert m["ask_depth"] == pytest.approx(sum(s for p, s in asks if p in top_asks))
    assert m["bid_depth"] <= math.fsum(s for _, s in bids) * (1 + 1e-12)

    if bids and asks:
        mid = (max(bid_prices) + min(ask_prices)) / 2
        assert m["mid"] == pytest.approx(mid)
        assert m["spread"] == pytest.approx(min(ask_prices) - max(bid_prices))
        assert m["bid_depth_5c"] == pytest.approx(sum(s for p, s in bids if p >= mid - 0.05 - 1e-9))
        assert m["ask_depth_1c"] == pytest.approx(sum(s for p, s in asks if p <= mid + 0.01 + 1e-9))
        assert m["bid_depth_1c"] <= m["bid_depth_5c"]
        wall = max(bids, key=lambda level: level[1])
        assert m["bid_wall_size"] >= wall[1] * (1 - 1e-12)
    else:
        assert m["mid"] is None and m["bid_depth_1c"] is None and m["ask_wall_distance"] is None
    if m["imbalance"] is not None:
        assert -1.0 <= m["imbalance"] <= 1.0
