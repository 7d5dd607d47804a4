"""ClobClient against the stub: batched books with omissions and failures, prices, cursors, history windows."""

from __future__ import annotations

import threading
import time

import pytest

from polymarket_assets.lib.clob import MAX_HISTORY_WINDOW_S, ClobClient
from polymarket_assets.lib.errors import ApiError, ClientResponseError, RetryExhaustedError
from polymarket_assets_tests.lib.conftest import FAST
from polymarket_assets_tests.lib.stub_server import Reply, json_reply

TOKENS = [str(10**76 + i) for i in range(7)]


def client_for(stub, **kw) -> ClobClient:
    return ClobClient(stub.url + "/clob", **{**FAST, **kw})


def book(token: str) -> dict:
    return {
        "market": "0x" + "ab" * 32,
        "asset_id": token,
        "timestamp": "1",
        "hash": "h",
        "bids": [],
        "asks": [],
    }


def test_get_books_chunks_in_parallel_and_reports_omitted_tokens(stub):
    omitted = TOKENS[3]
    in_flight, peak, lock = [0], [0], threading.Lock()

    def handler(req):
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        try:
            time.sleep(0.05)
            return json_reply([book(item["token_id"]) for item in req.body if item["token_id"] != omitted])
        finally:
            with lock:
                in_flight[0] -= 1

    stub.handle("POST", "/clob/books", handler)
    result = client_for(stub).get_books(TOKENS + TOKENS[:2], batch_size=2, max_workers=3)
    assert sorted(b["asset_id"] for b in result.books) == sorted(set(TOKENS) - {omitted})
    assert result.missing_token_ids == (omitted,)
    assert result.failed_token_ids == () and result.errors == ()
    calls = stub.calls()
    assert sorted(len(c.body) for c in calls) == [1, 2, 2, 2]  # 7 unique tokens in chunks of 2
    assert 1 < peak[0] <= 3
    _books, missing = result  # tuple-style unpacking
    assert missing == (omitted,)


def test_get_books_reports_a_failed_chunk_and_keeps_the_rest(stub):
    def handler(req):
        if any(item["token_id"] == TOKENS[0] for item in req.body):
            return json_reply({"error": "Invalid token id"}, status=400)
        return json_reply([book(item["token_id"]) for item in req.body])

    stub.handle("POST", "/clob/books", handler)
    result = client_for(stub).get_books(TOKENS[:4], batch_size=2)
    assert sorted(b["asset_id"] for b in result.books) == TOKENS[2:4]
    assert result.failed_token_ids == tuple(TOKENS[:2])
    assert result.missing_token_ids == ()
    assert len(result.errors) == 1 and result.errors[0].status == 400


def test_get_books_raises_when_every_chunk_fails(stub):
    stub.handle("POST", "/clob/books", lambda req: Reply(status=500))
    with pytest.raises(RetryExhaustedError):
        client_for(stub, max_retries=1).get_books(TOKENS[:4], batch_size=2)


def test_get_books_with_nothing_to_ask(stub):
    assert client_for(stub).get_books([]).books == []
    assert stub.calls() == []


def test_get_book_404_is_not_retried(stub):
    stub.script(
        "GET",
        "/clob/book",
        json_reply({"error": "No orderbook exists for the requested token id"}, status=404),
    )
    with pytest.raises(ClientResponseError) as info:
        client_for(stub).get_book(TOKENS[0])
    assert info.value.status == 404
    assert len(stub.calls()) == 1
    assert stub.calls()[0].param("token_id") == TOKENS[0]


def test_prices_and_midpoints_are_batched_and_merged(stub):
    stub.handle(
        "POST",
        "/clob/prices",
        lambda req: json_reply({item["token_id"]: {"BUY": "0.4", "SELL": "0.6"} for item in req.body}),
    )
    stub.handle(
        "POST", "/clob/midpoints", lambda req: json_reply({item["token_id"]: "0.5" for item in req.body})
    )
    client = client_for(stub)
    prices = client.get_prices(TOKENS[:5], batch_size=2)
    mids = client.get_midpoints(TOKENS[:5], batch_size=2)
    assert prices == {t: {"BUY": "0.4", "SELL": "0.6"} for t in TOKENS[:5]}
    assert mids == {t: "0.5" for t in TOKENS[:5]}
    price_calls = stub.calls("POST", "/clob/prices")
    assert len(price_calls) == 3
    assert price_calls[0].body == [
        {"token_id": TOKENS[0], "side": "BUY"},
        {"token_id": TOKENS[0], "side": "SELL"},
        {"token_id": TOKENS[1], "side": "BUY"},
        {"token_id": TOKENS[1], "side": "SELL"},
    ]


def test_iter_markets_follows_the_cursor_until_end(stub):
    pages = {"MA==": ([{"condition_id": "a"}], "MTAw"), "MTAw": ([{"condition_id": "b"}], "LTE=")}
    stub.handle(
        "GET",
        "/clob/markets",
        lambda req: json_reply(
            {
                "data": pages[req.param("next_cursor")][0],
                "next_cursor": pages[req.param("next_cursor")][1],
                "limit": 1,
                "count": 1,
            }
        ),
    )
    got = [m["condition_id"] for page in client_for(stub).iter_markets() for m in page]
    assert got == ["a", "b"]
    assert [c.param("next_cursor") for c in stub.calls()] == ["MA==", "MTAw"]


def test_iter_markets_detects_a_stuck_cursor(stub):
    stub.handle("GET", "/clob/markets", lambda req: json_reply({"data": [], "next_cursor": "MA=="}))
    with pytest.raises(ApiError, match="repeated"):
        list(client_for(stub).iter_markets())


def test_get_market_by_condition_id(stub):
    cid = "0x" + "cd" * 32
    stub.script("GET", f"/clob/markets/{cid}", json_reply({"condition_id": cid, "tokens": []}))
    assert client_for(stub).get_market(cid)["condition_id"] == cid


def test_prices_history_splits_long_windows_and_stitches(stub):
    def handler(req):
        start, end = int(req.param("startTs")), int(req.param("endTs"))
        assert end - start <= MAX_HISTORY_WINDOW_S
        assert req.param("market") == TOKENS[0] and req.param("fidelity") == "60"
        return json_reply({"history": [{"t": t, "p": 0.5} for t in range(start, end + 1, 86_400)]})

    stub.handle("GET", "/clob/prices-history", handler)
    start = 1_700_000_000
    points = client_for(stub).get_prices_history(TOKENS[0], start, start + 20 * 86_400, fidelity=60)
    assert [p["t"] for p in points] == list(range(start, start + 20 * 86_400 + 1, 86_400))
    assert len(stub.calls()) == 2


def test_prices_history_rejects_bad_points(stub):
    stub.script("GET", "/clob/prices-history", json_reply({"history": [{"t": "x", "p": 1}]}))
    with pytest.raises(ApiError):
        client_for(stub).get_prices_history(TOKENS[0], 0, 10, fidelity=1)


def test_default_limits_follow_the_published_table():
    client = ClobClient("http://127.0.0.1:1")
    assert {k: b.burst for k, b in client._buckets.items()} == {
        "/book": 150,
        "/books": 50,
        "/price": 150,
        "/prices": 50,
        "/midpoint": 150,
        "/midpoints": 50,
        "/prices-history": 100,
    }
    assert client._general_bucket.burst == 900
