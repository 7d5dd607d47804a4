"""Gamma behaviour: pagination, 422s, limit clamp, the implicit closed=false, filters and lookups."""

from __future__ import annotations

import json
import re

from polymarket_sim import run_sim

from .conftest import START


def test_markets_is_bare_array_with_deprecation_headers(sim):
    r = sim.get("PM_GAMMA_URL", "/markets")
    assert r.status_code == 200
    assert isinstance(r.json(), list)
    assert len(r.json()) == 20
    assert r.headers["deprecation"] == "true"
    assert r.headers["sunset"] == "Fri, 01 May 2026 00:00:00 GMT"
    assert "keyset" in r.headers["warning"]


def test_limit_is_clamped_to_100(sim):
    assert len(sim.gamma("/markets", limit=500)) == 100
    assert len(sim.gamma("/markets/keyset", limit=5000)["markets"]) == 100


def test_offset_ceiling_and_422_body(sim):
    assert sim.get("PM_GAMMA_URL", "/markets", offset=2000).status_code == 200
    r = sim.get("PM_GAMMA_URL", "/markets", offset=2001)
    assert r.status_code == 422
    assert r.json() == {
        "type": "validation error",
        "error": "offset too large, use /markets/keyset for deeper pagination",
    }


def test_closed_default_and_closed_true(sim):
    open_ = sim.gamma("/markets", limit=100)
    assert all(m["closed"] is False for m in open_)
    closed = sim.gamma("/markets", limit=100, closed="true")
    assert closed and all(m["closed"] is True for m in closed)
    resolved = closed[0]
    # A resolved slug or condition id returns [] unless closed=true is sent (polymarket_api.md §1.2).
    assert sim.gamma("/markets", slug=resolved["slug"]) == []
    assert [m["id"] for m in sim.gamma("/markets", slug=resolved["slug"], closed="true")] == [resolved["id"]]
    assert sim.gamma("/markets", condition_ids=resolved["conditionId"]) == []
    assert [m["id"] for m in sim.gamma("/markets", condition_ids=resolved["conditionId"], closed="true")] == [
        resolved["id"]
    ]
    # The path form works for closed markets regardless of the default.
    assert sim.gamma(f"/markets/{resolved['id']}")["id"] == resolved["id"]


def test_resolved_markets_carry_one_hot_or_invalid_prices(sim):
    closed = sim.gamma("/markets", limit=100, closed="true")
    seen = set()
    for m in closed:
        prices = json.loads(m["outcomePrices"])
        assert prices in (["1", "0"], ["0", "1"], ["0", "0"])
        seen.add(tuple(prices))
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\+00", m["closedTime"])
    assert {("1", "0"), ("0", "1")} <= seen


def test_repeated_and_comma_separated_array_params(sim):
    page = sim.gamma("/markets", limit=6)
    ids = [m["conditionId"] for m in page[:3]]
    r1 = sim.s.get(sim.urls["PM_GAMMA_URL"] + "/markets", params=[("condition_ids", c) for c in ids]).json()
    r2 = sim.gamma("/markets", condition_ids=",".join(ids))
    assert [m["conditionId"] for m in r1] == [m["conditionId"] for m in r2] == ids
    toks = [json.loads(m["clobTokenIds"])[1] for m in page[3:6]]
    r3 = sim.gamma("/markets", clob_token_ids=",".join(toks))
    assert [m["id"] for m in r3] == [m["id"] for m in page[3:6]]
    assert [m["id"] for m in sim.gamma("/markets", id=page[0]["id"])] == [page[0]["id"]]


def test_keyset_protocol(sim):
    p1 = sim.gamma("/markets/keyset", limit=10)
    assert set(p1) == {"markets", "next_cursor"}
    # A cursor sent under the wrong name is ignored: page 1 repeats.
    again = sim.gamma("/markets/keyset", limit=10, cursor=p1["next_cursor"], next_cursor=p1["next_cursor"])
    assert [m["id"] for m in again["markets"]] == [m["id"] for m in p1["markets"]]
    p2 = sim.gamma("/markets/keyset", limit=10, after_cursor=p1["next_cursor"])
    assert int(p2["markets"][0]["id"]) > int(p1["markets"][-1]["id"])
    r = sim.get("PM_GAMMA_URL", "/markets/keyset", offset=10)
    assert r.status_code == 422


def test_offset_paging_returns_each_open_market_once(sim):
    seen = []
    offset = 0
    while True:
        page = sim.gamma("/markets", limit=100, offset=offset)
        seen.extend(m["id"] for m in page)
        if len(page) < 100:
            break
        offset += 100
    truth = {m["gamma_id"] for m in sim.control.markets() if m["state"] != "resolved"}
    assert len(seen) == len(set(seen))
    assert set(seen) == truth


def test_keyset_paging_5000_markets_exactly_once_while_new_markets_appear():
    with run_sim(markets=5000, seed=3, speed=0, start=START, rate_limit="off") as h:
        base = h.urls["PM_GAMMA_URL"]
        import requests

        s = requests.Session()
        before = {m["gamma_id"] for m in h.control.markets() if m["state"] != "resolved"}
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            params = {"limit": 100}
            if cursor:
                params["after_cursor"] = cursor
            body = s.get(base + "/markets/keyset", params=params, timeout=30).json()
            seen.extend(m["id"] for m in body["markets"])
            pages += 1
            # Move the world on while paging: markets resolve and new ones (with higher ids) appear.
            h.control.advance(60)
            cursor = body.get("next_cursor")
            if not cursor:
                break
        still_open = {m["gamma_id"] for m in h.control.markets() if m["state"] != "resolved"}
        assert len(seen) == len(set(seen)), "a market was returned twice"
        # Every market open both before and after paging was returned exactly once...
        assert (before & still_open) <= set(seen)
        # ...and markets created while paging (higher ids) were picked up at the end.
        assert set(seen) - before, "the test should see new markets appear while paging"
        assert pages >= 40
        evs = s.get(base + "/events/keyset", params={"limit": 1000}, timeout=60).json()
        assert len(evs["events"]) == 500 and "next_cursor" in evs


def test_negrisk_events_embed_mutually_exclusive_markets(sim):
    found = None
    cursor = None
    for _ in range(20):
        params = {"limit": 100}
        if cursor:
            params["after_cursor"] = cursor
        body = sim.gamma("/events/keyset", **params)
        for ev in body["events"]:
            if ev["negRisk"] and len(ev["markets"]) >= 3:
                found = ev
                break
        cursor = body.get("next_cursor")
        if found or not cursor:
            break
    assert found, "no negRisk event found"
    titles = [m["groupItemTitle"] for m in found["markets"]]
    assert len(set(titles)) == len(titles) and all(titles)
    yes = sum(float(json.loads(m["outcomePrices"])[0]) for m in found["markets"])
    assert 0.85 <= yes <= 1.15
    assert sim.gamma(f"/events/{found['id']}")["id"] == found["id"]


def test_market_identity_formats(sim):
    ms = sim.gamma("/markets", limit=100) + sim.gamma("/markets", limit=100, closed="true")
    lengths = set()
    names = set()
    for m in ms:
        assert re.fullmatch(r"\d+", m["id"])
        assert re.fullmatch(r"0x[0-9a-f]{64}", m["conditionId"])
        toks = json.loads(m["clobTokenIds"])
        for t in toks:
            assert re.fullmatch(r"[1-9]\d{73,77}", t)
            assert int(t) < 2**256, "token ids are uint256"
            lengths.add(len(t))
        assert re.fullmatch(r"\d{4}-\d\d-\d\d", m["endDateIso"])
        names.add(tuple(json.loads(m["outcomes"])))
    assert len(lengths) >= 3
    assert ("Yes", "No") in names and len(names) > 1
    assert any("bestBid" not in m for m in ms)
    assert any("umaResolutionStatus" not in m for m in ms if m["closed"])
    assert any(m.get("umaResolutionStatus") == "resolved" for m in ms if m["closed"])


def test_events_keyset_returns_each_open_event_once(sim):
    seen, cursor = [], None
    while True:
        params = {"limit": 25}
        if cursor:
            params["after_cursor"] = cursor
        body = sim.gamma("/events/keyset", **params)
        seen.extend(e["id"] for e in body["events"])
        cursor = body.get("next_cursor")
        if not cursor:
            break
    truth = {m["event_id"] for m in sim.control.markets() if m["state"] != "resolved"}
    assert len(seen) == len(set(seen)) and set(seen) == truth
    offset_ids = [
        e["id"] for off in range(0, len(seen) + 100, 100) for e in sim.gamma("/events", limit=100, offset=off)
    ]
    assert offset_ids == seen
