"""CLOB REST: book format and order, batch limits, prices, errors, complementary books, markets cursor."""

from __future__ import annotations

import json
import re
from decimal import Decimal


def _tokens(sim, n=20):
    return [json.loads(m["clobTokenIds"]) for m in sim.gamma("/markets", limit=n)]


def test_book_format_and_real_sort_order(sim):
    checked = 0
    for yes, no in _tokens(sim, 40):
        for tok in (yes, no):
            b = sim.clob("/book", token_id=tok)
            assert b["asset_id"] == tok
            assert re.fullmatch(r"[0-9a-f]{40}", b["hash"])
            assert re.fullmatch(r"\d{13}", b["timestamp"])
            assert b["tick_size"] in ("0.01", "0.001") and b["min_order_size"] == "5"
            assert isinstance(b["neg_risk"], bool)
            bids = [Decimal(x["price"]) for x in b["bids"]]
            asks = [Decimal(x["price"]) for x in b["asks"]]
            assert bids == sorted(bids), "bids must be ascending (best last)"
            assert asks == sorted(asks, reverse=True), "asks must be descending (best last)"
            if bids and asks:
                assert bids[-1] < asks[-1]
            tick = Decimal(b["tick_size"])
            if tick == Decimal("0.01"):
                assert all(p % tick == 0 for p in bids + asks)
            checked += 1
    assert checked == 80


def test_no_book_mirrors_yes_book(sim):
    for yes, no in _tokens(sim, 10):
        y = sim.clob("/book", token_id=yes)
        n = sim.clob("/book", token_id=no)
        assert [(1 - Decimal(a["price"]), a["size"]) for a in y["asks"]] == [
            (Decimal(b["price"]), b["size"]) for b in n["bids"]
        ]
        assert [(1 - Decimal(a["price"]), a["size"]) for a in y["bids"]] == [
            (Decimal(b["price"]), b["size"]) for b in n["asks"]
        ]
        assert y["market"] == n["market"] and y["hash"] != n["hash"]


def test_price_midpoint_spread_agree_with_book(sim):
    for yes, _ in _tokens(sim, 15):
        b = sim.clob("/book", token_id=yes)
        if not b["bids"] or not b["asks"]:
            continue
        best_bid = max(Decimal(x["price"]) for x in b["bids"])
        best_ask = min(Decimal(x["price"]) for x in b["asks"])
        assert Decimal(sim.clob("/price", token_id=yes, side="BUY")["price"]) == best_bid
        assert Decimal(sim.clob("/price", token_id=yes, side="SELL")["price"]) == best_ask
        assert Decimal(sim.clob("/midpoint", token_id=yes)["mid"]) == (best_bid + best_ask) / 2
        assert Decimal(sim.clob("/spread", token_id=yes)["spread"]) == best_ask - best_bid


def test_batch_endpoints(sim):
    toks = [t for pair in _tokens(sim, 30) for t in pair]
    books = sim.post("PM_CLOB_URL", "/books", [{"token_id": t} for t in toks]).json()
    assert [b["asset_id"] for b in books] == toks
    prices = sim.post(
        "PM_CLOB_URL",
        "/prices",
        [{"token_id": toks[0], "side": "BUY"}, {"token_id": toks[0], "side": "SELL"}],
    ).json()
    assert set(prices[toks[0]]) == {"BUY", "SELL"}
    mids = sim.post("PM_CLOB_URL", "/midpoints", [{"token_id": t} for t in toks[:4]]).json()
    assert set(mids) == set(toks[:4])


def test_books_batch_max_is_enforced(sim):
    toks = [t for pair in _tokens(sim, 100) for t in pair] * 3
    r = sim.post("PM_CLOB_URL", "/books", [{"token_id": t} for t in toks[:501]])
    assert r.status_code == 400 and "error" in r.json()


def test_unknown_and_resolved_tokens(sim):
    r = sim.get("PM_CLOB_URL", "/book", token_id="1" * 77)
    assert r.status_code == 404 and r.json() == {"error": "Invalid token id"}
    r = sim.get("PM_CLOB_URL", "/book", token_id="not-a-token")
    assert r.status_code == 400
    closed = sim.gamma("/markets", closed="true", limit=1)[0]
    r = sim.get("PM_CLOB_URL", "/book", token_id=json.loads(closed["clobTokenIds"])[0])
    assert r.status_code == 404
    assert r.json() == {"error": "No orderbook exists for the requested token id"}


def test_clob_markets_cursor_and_winners(sim):
    first = sim.clob("/markets")
    assert set(first) == {"data", "next_cursor", "limit", "count"}
    assert sim.clob("/markets", next_cursor="MA==") == first
    cursor, total = first["next_cursor"], len(first["data"])
    while cursor != "LTE=":
        page = sim.clob("/markets", next_cursor=cursor)
        total += len(page["data"])
        cursor = page["next_cursor"]
    assert total == len(sim.control.markets())
    truth = {m["condition_id"]: m for m in sim.control.markets()}
    for cm in first["data"]:
        t = truth[cm["condition_id"]]
        # tokens[] are listed in the market's outcome order (a ["No", "Yes"] market lists its No token first).
        by_name = {t["yes_outcome"]: t["yes_token_id"], t["no_outcome"]: t["no_token_id"]}
        assert [x["outcome"] for x in cm["tokens"]] == t["outcomes"]
        assert [x["token_id"] for x in cm["tokens"]] == [by_name[o] for o in t["outcomes"]]
        if cm["closed"]:
            winners = {x["token_id"]: x["winner"] for x in cm["tokens"]}
            expected = {"YES": [True, False], "NO": [False, True], "INVALID": [False, False]}[t["outcome"]]
            assert [winners[t["yes_token_id"]], winners[t["no_token_id"]]] == expected
    one = sim.clob(f"/markets/{first['data'][0]['condition_id']}")
    assert one["condition_id"] == first["data"][0]["condition_id"]


def test_some_books_have_an_empty_side(sim):
    truth = [m for m in sim.control.markets() if m["state"] != "resolved"]
    toks = [t for m in truth for t in (m["yes_token_id"], m["no_token_id"])]
    empty = 0
    for i in range(0, len(toks), 100):
        for b in sim.post("PM_CLOB_URL", "/books", [{"token_id": t} for t in toks[i : i + 100]]).json():
            empty += (not b["bids"]) or (not b["asks"])
    assert empty > 0
