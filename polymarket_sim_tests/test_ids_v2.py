"""Outcome ids in the simulator: Protocol V2 markets (polymarket_api.md §9.6), ["No", "Yes"] markets, and the
strict 2026 Gamma `closed` default (§9.9), each consistent across Gamma, the CLOB, the websocket and the Data API."""

from __future__ import annotations

import json

import pytest

from polymarket_sim import run_sim
from polymarket_sim.catalog import DEFAULT_V2_SHARE, Catalog

from .conftest import START, START_TS, Client
from .wsclient import WSClient

DAY = 86400.0


@pytest.fixture(scope="module")
def v2sim():
    with run_sim(
        markets=200,
        seed=5,
        speed=0,
        start=START,
        rate_limit="off",
        v2_since="2026-01-01",
        v2_share=0.5,
        no_yes_share=0.5,
    ) as handle:
        yield Client(handle)
        assert handle.control.stats()["internal_errors"] == 0


def _listed(sim, **params) -> list[dict]:
    return sim.gamma("/markets", limit=100, **params) + sim.gamma(
        "/markets", limit=100, closed="true", **params
    )


def _ids(m: dict) -> list[str]:
    if m.get("version") == "v2":
        return m["positionIds"] if isinstance(m["positionIds"], list) else json.loads(m["positionIds"])
    return json.loads(m["clobTokenIds"])


def test_gamma_renders_ids_by_version_and_outcomes_in_listed_order(v2sim):
    truth = {t["condition_id"]: t for t in v2sim.control.markets()}
    markets = _listed(v2sim)
    assert {m["version"] for m in markets} == {"v1", "v2"}
    with_legacy = 0
    for m in markets:
        t = truth[m["conditionId"]]
        outcomes = json.loads(m["outcomes"])
        assert outcomes == t["outcomes"] and m["version"] == t["version"]
        by_name = {t["yes_outcome"]: t["yes_token_id"], t["no_outcome"]: t["no_token_id"]}
        assert _ids(m) == [by_name[o] for o in outcomes]
        if m["version"] == "v2":
            assert isinstance(m["positionIds"], list), "v2 ids are a real JSON array"
            if "clobTokenIds" in m:
                with_legacy += 1
                assert not set(json.loads(m["clobTokenIds"])) & set(by_name.values())
        else:
            assert "positionIds" not in m
        if m["closed"] and t["outcome"] in ("YES", "NO"):
            winner = t["yes_outcome"] if t["outcome"] == "YES" else t["no_outcome"]
            assert json.loads(m["outcomePrices"]) == ["1" if o == winner else "0" for o in outcomes]
    assert with_legacy > 0
    assert any(json.loads(m["outcomes"]) == ["No", "Yes"] for m in markets)


def test_clob_serves_v2_markets_under_their_position_ids_only(v2sim):
    live = [m for m in v2sim.gamma("/markets", limit=100) if m["version"] == "v2"]
    assert live
    m = next(x for x in live if "clobTokenIds" in x)
    ids = m["positionIds"]
    for token in ids:
        book = v2sim.clob("/book", token_id=token)
        assert book["asset_id"] == token and book["market"] == m["conditionId"]
    books = v2sim.post("PM_CLOB_URL", "/books", [{"token_id": t} for t in ids]).json()
    assert sorted(b["asset_id"] for b in books) == sorted(ids)
    prices = v2sim.post("PM_CLOB_URL", "/prices", [{"token_id": t, "side": "BUY"} for t in ids]).json()
    assert set(prices) == set(ids)
    mids = v2sim.post("PM_CLOB_URL", "/midpoints", [{"token_id": t} for t in ids]).json()
    assert set(mids) == set(ids)
    # The CTF ids a v2 market may also list are not what it trades under.
    for legacy in json.loads(m["clobTokenIds"]):
        assert v2sim.get("PM_CLOB_URL", "/book", token_id=legacy).status_code == 404
    clob_market = v2sim.clob(f"/markets/{m['conditionId']}")
    assert [(x["token_id"], x["outcome"]) for x in clob_market["tokens"]] == list(
        zip(ids, json.loads(m["outcomes"]))
    )


def test_websocket_subscribes_by_position_id(v2sim):
    live = [m for m in v2sim.gamma("/markets", limit=100) if m["version"] == "v2"]
    ids = [t for m in live[:3] for t in m["positionIds"]]
    ws = WSClient(v2sim.urls["PM_WS_URL"])
    try:
        ws.subscribe(ids)
        deadline = 0
        while {b for b in ws.books} < set(ids) and deadline < 20:
            ws.recv_frame()
            deadline += 1
    finally:
        ws.ws.close()
    assert set(ids) <= set(ws.books)


def test_data_api_trades_carry_listed_outcome_and_index(v2sim):
    truth = {t["condition_id"]: t for t in v2sim.control.markets()}
    flipped = [
        cid
        for cid, t in truth.items()
        if t["outcomes"] == ["No", "Yes"] and t["version"] == "v2" and t["state"] != "resolved"
    ]
    rows = []
    for cid in flipped[:10]:
        rows += v2sim.get("PM_DATA_API_URL", "/trades", market=cid, limit=50).json()
    assert rows
    for row in rows:
        t = truth[row["conditionId"]]
        name = t["yes_outcome"] if row["asset"] == t["yes_token_id"] else t["no_outcome"]
        assert row["asset"] in (t["yes_token_id"], t["no_token_id"])
        assert (row["outcome"], row["outcomeIndex"]) == (name, t["outcomes"].index(name))


@pytest.mark.parametrize("field", ["id", "slug", "condition_ids", "clob_token_ids", "position_ids"])
def test_keyset_applies_closed_false_even_with_an_identity_filter(v2sim, field):
    """§9.9: a resolved market is invisible to /markets/keyset unless closed=true is sent, whatever the filter."""
    closed = v2sim.gamma("/markets", limit=100, closed="true")
    want_v2 = field == "position_ids"
    m = next(x for x in closed if (x["version"] == "v2") == want_v2)
    value = {"id": m["id"], "slug": m["slug"], "condition_ids": m["conditionId"]}.get(field) or _ids(m)[0]
    assert v2sim.gamma("/markets/keyset", **{field: value})["markets"] == []
    assert [x["id"] for x in v2sim.gamma("/markets/keyset", closed="true", **{field: value})["markets"]] == [
        m["id"]
    ]


def test_position_ids_filter_finds_only_v2_markets_and_clob_token_ids_only_v1(v2sim):
    live = v2sim.gamma("/markets", limit=100)
    v2 = next(m for m in live if m["version"] == "v2")
    v1 = next(m for m in live if m["version"] == "v1")
    assert [
        x["id"] for x in v2sim.gamma("/markets/keyset", position_ids=v2["positionIds"][1])["markets"]
    ] == [v2["id"]]
    assert v2sim.gamma("/markets/keyset", clob_token_ids=v2["positionIds"][1])["markets"] == []
    assert v2sim.gamma("/markets/keyset", position_ids=json.loads(v1["clobTokenIds"])[0])["markets"] == []


def test_by_default_only_markets_created_after_the_start_carry_a_version_and_30_percent_are_v2():
    catalog = Catalog(5, 2000, START_TS)
    catalog.ensure(START_TS + 10 * DAY)
    before = [m for m in catalog.markets if m.created_at < START_TS]
    after = [m for m in catalog.markets if m.created_at >= START_TS]
    assert before and all(m.version is None for m in before)
    assert len(after) > 500 and {m.version for m in after} == {"v1", "v2"}
    share = sum(m.version == "v2" for m in after) / len(after)
    assert abs(share - DEFAULT_V2_SHARE) < 0.05
    flipped = [m for m in catalog.markets if m.listed_order == (1, 0)]
    assert flipped and all(tuple(m.outcomes) == ("Yes", "No") for m in flipped)


def test_shares_outside_the_unit_interval_are_refused():
    with pytest.raises(ValueError, match="v2_share"):
        Catalog(5, 10, START_TS, v2_share=1.5)
