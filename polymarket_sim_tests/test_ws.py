"""Market WebSocket protocol, with a real websocket-client against the simulator."""

from __future__ import annotations

import json
import time

import pytest
import websocket

from polymarket_sim import run_sim

from .conftest import START, START_TS
from .shapes import compare, load
from .wsclient import WSClient, rest_levels


def _pairs(sim, n):
    return [json.loads(m["clobTokenIds"]) for m in sim.gamma("/markets", limit=n)]


@pytest.fixture()
def at_start(sim):
    sim.control.set_time(START_TS)
    yield sim
    sim.control.set_time(START_TS)


def test_subscribe_gets_book_array_then_updates_that_keep_books_equal_to_rest(at_start):
    sim = at_start
    pairs = _pairs(sim, 5)
    assets = [t for p in pairs for t in p]
    c = WSClient(sim.urls["PM_WS_URL"])
    try:
        c.subscribe(assets)
        first = c.recv_frame()
        assert isinstance(first, list) and [m["event_type"] for m in first] == ["book"] * len(assets)
        assert {m["asset_id"] for m in first} == set(assets)
        for m in first:
            assert m["hash"] == sim.clob("/book", token_id=m["asset_id"])["hash"]
        sim.control.advance(300)
        c.drain()
        # (The dump's book timestamps are when each state began; updates after it must come in time order.)
        stamps = [int(m["timestamp"]) for m in c.messages[len(assets) :]]
        assert stamps == sorted(stamps), "events between the old and the new time arrive in time order"
        kinds = {m["event_type"] for m in c.messages}
        assert {"price_change", "book"} <= kinds
        for m in c.messages:
            if m["event_type"] == "price_change":
                assert {ch["asset_id"] for ch in m["price_changes"]} <= set(assets)
        # Both tokens of a market in one price_change message.
        assert any(
            len({ch["asset_id"] for ch in m["price_changes"]}) == 2
            for m in c.messages
            if m["event_type"] == "price_change"
        )
        assert any(
            ch["size"] == "0"
            for m in c.messages
            if m["event_type"] == "price_change"
            for ch in m["price_changes"]
        )
        for tok in assets:
            rest = sim.clob("/book", token_id=tok)
            assert c.books[tok]["hash"] == rest["hash"], (
                "WS state hash must equal REST /book at the same instant"
            )
            assert {k: v for k, v in c.books[tok].items() if k != "hash"} == rest_levels(rest)
    finally:
        c.close()


def test_every_trade_arrives_as_last_trade_price(at_start):
    sim = at_start
    pairs = _pairs(sim, 8)
    assets = [t for p in pairs for t in p]
    c = WSClient(sim.urls["PM_WS_URL"])
    try:
        c.subscribe(assets)
        c.recv_frame()
        t0 = sim.control.now()
        sim.control.advance(900)
        c.drain()
        got = sorted(
            (m["asset_id"], m["price"], m["size"], m["side"], m["timestamp"])
            for m in c.messages
            if m["event_type"] == "last_trade_price"
        )
        conds = [sim.clob("/book", token_id=p[0])["market"] for p in pairs]
        truth = sim.control.truth_trades(conds, start=t0, end=t0 + 900)
        want = sorted(
            (t["asset_id"], t["price"], t["size"], t["side"], str(t["timestamp_ms"]))
            for t in truth
            if t["timestamp_ms"] > t0 * 1000
        )
        assert want and got == want
        for m in c.messages:
            if m["event_type"] == "last_trade_price":
                assert all(isinstance(m[k], str) for k in ("price", "size", "fee_rate_bps", "timestamp"))
    finally:
        c.close()


def test_ping_pong_and_dynamic_subscribe_unsubscribe(at_start):
    sim = at_start
    (a_yes, a_no), (b_yes, b_no) = _pairs(sim, 2)
    c = WSClient(sim.urls["PM_WS_URL"])
    try:
        c.subscribe([a_yes, a_no])
        c.recv_frame()
        c.send("PING")
        assert c.recv_frame() == "PONG"
        c.send({"assets_ids": [b_yes], "operation": "subscribe", "custom_feature_enabled": False})
        dump = c.recv_frame()
        assert isinstance(dump, list) and dump[0]["asset_id"] == b_yes
        c.send({"assets_ids": [a_yes, a_no], "operation": "unsubscribe"})
        time.sleep(0.1)
        n0 = len(c.messages)
        sim.control.advance(300)
        c.drain()
        new = c.messages[n0:]
        assert new, "still subscribed to b"
        for m in new:
            ids = (
                {ch["asset_id"] for ch in m["price_changes"]}
                if m["event_type"] == "price_change"
                else {m["asset_id"]}
            )
            assert ids & {b_yes, b_no}
            assert m["event_type"] == "price_change" or m["asset_id"] == b_yes
    finally:
        c.close()


def test_custom_features_are_gated(at_start):
    sim = at_start
    pairs = _pairs(sim, 1)
    assets = [t for p in pairs for t in p]
    plain, custom = WSClient(sim.urls["PM_WS_URL"]), WSClient(sim.urls["PM_WS_URL"])
    try:
        plain.subscribe(assets, custom=False)
        custom.subscribe(assets, custom=True)
        plain.recv_frame()
        custom.recv_frame()
        sim.control.advance(3 * 3600)
        plain.drain()
        custom.drain()
        kinds_plain = {m["event_type"] for m in plain.messages}
        kinds_custom = {m["event_type"] for m in custom.messages}
        assert not kinds_plain & {"best_bid_ask", "new_market", "market_resolved"}
        assert {"best_bid_ask", "new_market", "market_resolved"} <= kinds_custom
        for name, kind in (
            ("docs_example_ws_best_bid_ask.json", "best_bid_ask"),
            ("docs_example_ws_new_market.json", "new_market"),
            ("docs_example_ws_market_resolved.json", "market_resolved"),
        ):
            got = [m for m in custom.messages if m["event_type"] == kind][:20]
            assert compare("ws_" + kind, got, [load(name)]) == []
    finally:
        plain.close()
        custom.close()


def test_ws_message_shapes_match_real_samples(at_start):
    sim = at_start
    pairs = _pairs(sim, 12)
    assets = [t for p in pairs for t in p]
    c = WSClient(sim.urls["PM_WS_URL"])
    try:
        c.subscribe(assets)
        c.recv_frame()
        sim.control.advance(900)
        c.drain()
        by = {}
        for m in c.messages:
            by.setdefault(m["event_type"], []).append(m)
        assert (
            compare("ws_book", by["book"][:50], [load("ws_market_book_trump2024_no_token_2024-10.json")])
            == []
        )
        assert (
            compare(
                "ws_price_change", by["price_change"][:50], [load("docs_example_ws_price_change_v2.json")]
            )
            == []
        )
        sample_entries = load("docs_example_ws_price_change_v2.json")["price_changes"]
        assert (
            compare(
                "ws_price_change_entry",
                [e for m in by["price_change"][:50] for e in m["price_changes"]],
                sample_entries,
            )
            == []
        )
        assert (
            compare(
                "ws_last_trade_price",
                by["last_trade_price"][:50],
                [
                    load("ws_market_last_trade_price_trump2024_2024-08.json"),
                    load("docs_example_ws_last_trade_price.json"),
                ],
            )
            == []
        )
        for m in c.messages:
            for k, v in m.items():
                if k not in ("bids", "asks", "price_changes", "assets_ids", "outcomes", "event_message"):
                    assert isinstance(v, str), (m["event_type"], k)
    finally:
        c.close()


def test_tick_size_change_when_price_crosses_threshold(at_start):
    sim = at_start
    truth = sim.control.markets()
    near = [m for m in truth if m["state"] == "open" and 0 < m["end_date"] - START_TS < 3 * 3600]
    # Find, through the truth endpoint, a market whose tick size changes in the next three hours.
    target = change_at = None
    for m in near[:15]:
        first = sim.control.truth_book(m["yes_token_id"], ts=START_TS)["tick_size"]
        for step in range(1, 37):
            ts = START_TS + step * 300
            if ts >= m["resolves_at"]:
                break
            if sim.control.truth_book(m["yes_token_id"], ts=ts)["tick_size"] != first:
                target, change_at = m, ts
                break
        if target:
            break
    assert target, "some market near its end should cross 0.04/0.96"
    c = WSClient(sim.urls["PM_WS_URL"])
    try:
        c.subscribe([target["yes_token_id"], target["no_token_id"]])
        c.recv_frame()
        sim.control.set_time(change_at)
        c.drain()
        tsc = [m for m in c.messages if m["event_type"] == "tick_size_change"]
        assert {m["asset_id"] for m in tsc} == {target["yes_token_id"], target["no_token_id"]}
        assert compare("ws_tick_size_change", tsc, [load("ws_market_tick_size_change_2025-02.json")]) == []
        assert {(m["old_tick_size"], m["new_tick_size"]) for m in tsc} <= {
            ("0.01", "0.001"),
            ("0.001", "0.01"),
        }
    finally:
        c.close()


def test_silent_client_is_dropped_and_pinging_client_is_kept():
    with run_sim(markets=50, seed=2, speed=0, start=START, rate_limit="off", ws_idle_timeout=1) as h:
        silent = WSClient(h.urls["PM_WS_URL"])
        pinger = WSClient(h.urls["PM_WS_URL"])
        end = time.time() + 3.2
        while time.time() < end:
            pinger.send("PING")
            assert pinger.recv_frame() == "PONG"
            time.sleep(0.3)
        with pytest.raises(
            (
                websocket.WebSocketConnectionClosedException,
                ConnectionError,
                websocket.WebSocketTimeoutException,
            )
        ):
            silent.ws.settimeout(1)
            silent.ws.send("PING")
            got = silent.ws.recv()
            if got in ("", None):
                raise websocket.WebSocketConnectionClosedException("closed")
        pinger.send("PING")
        assert pinger.recv_frame() == "PONG"
        silent.close()
        pinger.close()


def test_updates_flow_on_their_own_when_the_clock_runs():
    with run_sim(markets=40, seed=2, speed=30, start=START, rate_limit="off") as h:
        import requests

        page = requests.get(h.urls["PM_GAMMA_URL"] + "/markets", params={"limit": 5}, timeout=10).json()
        assets = [t for m in page for t in json.loads(m["clobTokenIds"])]
        c = WSClient(h.urls["PM_WS_URL"])
        try:
            c.subscribe(assets)
            c.recv_frame()
            end = time.time() + 2.0
            while time.time() < end:
                try:
                    c.recv_frame(timeout=0.5)
                except websocket.WebSocketTimeoutException:
                    pass
            stamps = [int(m["timestamp"]) for m in c.messages[len(assets) :]]
            assert len(stamps) > 5
            assert stamps == sorted(stamps), "events are emitted in time order"
        finally:
            c.close()


def test_socket_over_the_asset_cap_silently_gets_nothing():
    with run_sim(markets=400, seed=2, speed=0, start=START, rate_limit="off", ws_max_assets=20) as h:
        import requests

        page = requests.get(h.urls["PM_GAMMA_URL"] + "/markets", params={"limit": 11}, timeout=10).json()
        pairs = [json.loads(m["clobTokenIds"]) for m in page]
        under, over = WSClient(h.urls["PM_WS_URL"]), WSClient(h.urls["PM_WS_URL"])
        try:
            under.subscribe([t for p in pairs[:10] for t in p])
            over.subscribe([t for p in pairs[:11] for t in p])
            under.recv_frame()
            h.control.advance(300)
            assert under.drain(quiet=0.5) > 0
            assert over.drain(quiet=0.5) == 0
            over.send("PING")
            assert over.recv_frame() == "PONG"
        finally:
            under.close()
            over.close()


def test_every_shape_allowance_is_needed(sim):
    """Each entry of ALLOWED_DIFFERENCES must excuse a real difference, or it should be deleted."""
    from .shapes import ALLOWED_DIFFERENCES, USED_ALLOWANCES, compare, load

    sim.control.set_time(START_TS)
    yes, no = json.loads(sim.gamma("/markets", limit=1)[0]["clobTokenIds"])
    c = WSClient(sim.urls["PM_WS_URL"])
    try:
        c.subscribe([yes, no])
        books = c.recv_frame()
    finally:
        c.close()
    compare("ws_book", books, [load("ws_market_book_trump2024_no_token_2024-10.json")])
    closed_events = [e for m in sim.gamma("/markets", closed="true", limit=20) for e in m["events"]]
    compare("gamma_event", closed_events, [load("gamma_events_negrisk_dem_nominee_2028.json")[0]])
    # The custom events, built by the code the hub sends them with, for a market that charges fees.
    from polymarket_sim import ws_messages
    from polymarket_sim.catalog import Catalog

    charged = next(m for m in Catalog(7, 40, START_TS).markets if m.fees_enabled)
    compare("ws_new_market", [ws_messages.new_market(charged, 0)], [load("docs_example_ws_new_market.json")])
    compare(
        "ws_market_resolved",
        [ws_messages.market_resolved(charged, 0)],
        [load("docs_example_ws_market_resolved.json")],
    )
    assert USED_ALLOWANCES == set(ALLOWED_DIFFERENCES)
