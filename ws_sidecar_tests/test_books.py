"""Local books: replacement, level changes, the empty-side convention, REST comparison and the REST guard."""

from __future__ import annotations

import json

from polymarket_assets.lib.books import parse_book
from ws_sidecar.books import LocalBook, compare_with_rest
from ws_sidecar.processor import FrameProcessor

TOKEN = "1" * 77
MARKET = "0x" + "ab" * 32
T0 = 1_790_000_000_000  # epoch ms (2026-09): exchange times obey the time contract


def test_levels_apply_and_best_prices_ignore_wire_order():
    book = LocalBook(TOKEN)
    book.replace([(0.1, 5.0), (0.3, 1.0), (0.2, 0.0)], [(0.9, 1.0), (0.5, 2.0)], "h", 10, 0.01, rest=False)
    assert book.bids == {0.1: 5.0, 0.3: 1.0}  # a zero size is not a level
    assert (book.best_bid(), book.best_ask()) == (0.3, 0.5)
    book.apply("BUY", 0.35, 4.0)
    book.apply("SELL", 0.5, 0.0)
    assert book.top() == (0.35, 0.9)
    assert book.levels() == ([(0.35, 4.0), (0.3, 1.0), (0.1, 5.0)], [(0.9, 1.0)])
    book.apply("SELL", 0.9, 0)
    assert book.top() == (0.35, 1.0)  # empty ask side reads as "1", like the server's best_ask
    assert book.agrees_with(0.35, 1.0) and not book.agrees_with(0.36, 1.0) and book.agrees_with(None, None)


def test_rest_comparison_verdicts():
    book = LocalBook(TOKEN)
    assert compare_with_rest(book, "h", 0, [], []) == "mismatch"  # never synced
    book.replace([(0.4, 1.0)], [(0.6, 1.0)], "h1", 100, None, rest=False)
    assert compare_with_rest(book, "h1", 100, [(0.4, 1.0)], [(0.6, 1.0)]) == "ok"
    assert (
        compare_with_rest(book, "h1", 90, [(0.4, 2.0)], [(0.6, 1.0)]) == "mismatch"
    )  # same hash, other levels
    assert (
        compare_with_rest(book, "h2", 100, [(0.4, 1.0)], [(0.6, 1.0)]) == "mismatch"
    )  # not newer, other hash
    assert compare_with_rest(book, "h2", 101, [(0.41, 1.0)], [(0.6, 1.0)]) == "inconclusive"  # newer state


def _pc(ts: int, price: str, size: str, side: str, best_bid: str, best_ask: str) -> str:
    return json.dumps(
        {
            "market": MARKET,
            "event_type": "price_change",
            "timestamp": str(T0 + ts),
            "price_changes": [
                {
                    "asset_id": TOKEN,
                    "price": price,
                    "size": size,
                    "side": side,
                    "hash": "x" * 40,
                    "best_bid": best_bid,
                    "best_ask": best_ask,
                }
            ],
        }
    )


def test_ws_changes_already_contained_in_a_rest_book_are_skipped():
    p = FrameProcessor("r", "c00")
    p.track(TOKEN, MARKET)
    rest = parse_book(
        {
            "market": MARKET,
            "asset_id": TOKEN,
            "timestamp": str(T0 + 2000),
            "hash": "a" * 40,
            "bids": [{"price": "0.40", "size": "7"}],
            "asks": [{"price": "0.60", "size": "3"}],
        }
    )
    p.apply_rest_book(rest, 50)
    # Queued before the REST book was taken: its size 1 at 0.40 is already superseded by the REST size 7.
    p.process(_pc(1500, "0.40", "1", "BUY", "0.40", "0.60"), 60)
    assert p.books[TOKEN].bids == {0.40: 7.0}
    p.process(_pc(2500, "0.41", "2", "BUY", "0.41", "0.60"), 70)
    assert p.books[TOKEN].bids == {0.40: 7.0, 0.41: 2.0} and p.mismatches == 0
    kinds = [(r[4], r[5]) for r in p.book_rows]
    assert kinds == [("snapshot", "rest"), ("change", "ws")]
    # A WS book replaces the state and lifts the guard.
    p.process(
        json.dumps(
            {
                "event_type": "book",
                "market": MARKET,
                "asset_id": TOKEN,
                "timestamp": str(T0 + 1000),
                "hash": "b" * 40,
                "bids": [],
                "asks": [{"price": "0.7", "size": "1"}],
            }
        ),
        80,
    )
    p.process(_pc(1200, "0.2", "1", "BUY", "0.2", "0.7"), 90)
    assert p.books[TOKEN].bids == {0.2: 1.0} and p.mismatches == 0


def test_update_for_a_token_without_a_book_asks_for_a_resync():
    p = FrameProcessor("r", "c00")
    p.track(TOKEN, MARKET)
    p.process(_pc(10, "0.4", "1", "BUY", "0.4", "1"), 5)
    assert p.resync[TOKEN][0] == "update without a book"
