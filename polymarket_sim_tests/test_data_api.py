"""Data API trades, prices-history, last trade price, and the trade process (whales, informed flow)."""

from __future__ import annotations

import itertools
import json

import requests

from polymarket_sim.world import World

from .conftest import START_TS
from .shapes import compare, load


def _busy_market(sim):
    """The open market with the most trades in the last hour."""
    truth = sim.control.truth_trades(start=START_TS - 3600, end=START_TS)
    by = {}
    for t in truth:
        by.setdefault(t["condition_id"], []).append(t)
    cid = max(by, key=lambda c: len(by[c]))
    return cid, by[cid]


def test_trades_shape_order_and_truth(sim):
    sim.control.set_time(START_TS)
    cid, truth = _busy_market(sim)
    r = requests.get(sim.urls["PM_DATA_API_URL"] + "/trades", params={"market": cid, "limit": 50}, timeout=30)
    rows = r.json()
    assert isinstance(rows, list) and rows
    assert compare("data_api_trade", rows, load("data_api_trades_2026-03-22.json")) == []
    stamps = [x["timestamp"] for x in rows]
    assert stamps == sorted(stamps, reverse=True)
    newest_truth = sorted(truth, key=lambda t: t["timestamp_ms"], reverse=True)
    for row, t in zip(rows, newest_truth):
        assert row["transactionHash"] == t["transactionHash"]
        assert row["timestamp"] == t["timestamp_ms"] // 1000
        assert row["asset"] == t["asset_id"] and row["side"] == t["side"]
        assert row["price"] == t["price_num"] and row["size"] == t["size_num"]
        assert row["outcomeIndex"] == t["outcome_index"] and row["outcome"] == t["outcome"]
        assert isinstance(row["size"], float) and isinstance(row["price"], float)


def test_trades_multi_market_limit_offset_and_cap(sim):
    page = sim.gamma("/markets", limit=5)
    cids = ",".join(m["conditionId"] for m in page)
    base = sim.urls["PM_DATA_API_URL"] + "/trades"
    a = requests.get(base, params={"market": cids, "limit": 20}, timeout=30).json()
    b = requests.get(base, params={"market": cids, "limit": 10, "offset": 10}, timeout=30).json()
    assert [x["transactionHash"] for x in a[10:]] == [x["transactionHash"] for x in b]
    assert {x["conditionId"] for x in a} <= {m["conditionId"] for m in page}
    r = requests.get(base, params={"market": cids, "offset": 10001}, timeout=30)
    assert r.status_code == 400 and r.json() == {"error": "max historical trades offset of 10000 exceeded"}
    only_sells = requests.get(base, params={"market": cids, "side": "SELL", "limit": 20}, timeout=30).json()
    assert only_sells and all(x["side"] == "SELL" for x in only_sells)
    unfiltered = requests.get(base, params={"limit": 15}, timeout=30).json()
    assert len(unfiltered) == 15


def test_last_trade_price_matches_truth(sim):
    sim.control.set_time(START_TS)
    _cid, truth = _busy_market(sim)
    last = max(truth, key=lambda t: t["timestamp_ms"])
    got = sim.clob("/last-trade-price", token_id=last["asset_id"])
    assert got == {"price": last["price"], "side": last["side"]}


def test_prices_history_rules(sim):
    sim.control.set_time(START_TS)
    m = next(x for x in sim.control.markets() if x["state"] == "open" and START_TS - x["created_at"] > 86400)
    tok = m["yes_token_id"]
    h = sim.clob("/prices-history", market=tok, interval="1d", fidelity=60)["history"]
    assert 20 <= len(h) <= 25
    assert all(isinstance(p["t"], int) and isinstance(p["p"], float) for p in h)
    assert (
        compare(
            "prices_history",
            [sim.clob("/prices-history", market=tok, interval="1d", fidelity=60)],
            [load("clob_prices_history_2026-03-22.json")],
        )
        == []
    )
    # p is the midpoint of the book at t.
    for pt in h[-3:]:
        book = sim.control.truth_book(tok, ts=pt["t"])
        bb = max(float(x["price"]) for x in book["bids"]) if book["bids"] else 0.0
        ba = min(float(x["price"]) for x in book["asks"]) if book["asks"] else 1.0
        assert abs(pt["p"] - (bb + ba) / 2) < 1e-9
    base = sim.urls["PM_CLOB_URL"] + "/prices-history"
    r = requests.get(
        base,
        params={"market": tok, "startTs": int(START_TS) - 16 * 86400, "endTs": int(START_TS)},
        timeout=10,
    )
    assert r.status_code == 400
    assert r.json() == {"error": "invalid filters: 'startTs' and 'endTs' interval is too long"}
    r = requests.get(base, params={"market": tok, "interval": "1w", "fidelity": 1}, timeout=10)
    assert r.status_code == 400 and r.json() == {
        "error": "invalid filters: minimum 'fidelity' for '1w' range is 5"
    }
    closed = next(x for x in sim.control.markets() if x["state"] == "resolved")
    assert sim.clob("/prices-history", market=closed["yes_token_id"], interval="max")["history"] == []
    coarse = sim.clob(
        "/prices-history",
        market=closed["yes_token_id"],
        startTs=int(closed["resolves_at"]) - 5 * 86400,
        endTs=int(closed["resolves_at"]),
        fidelity=1,
    )["history"]
    assert all(b["t"] - a["t"] >= 12 * 3600 for a, b in itertools.pairwise(coarse))


def test_other_clob_endpoints(sim):
    yes, no = json.loads(sim.gamma("/markets", limit=1)[0]["clobTokenIds"])
    assert sim.clob("/tick-size", token_id=yes)["minimum_tick_size"] in (0.01, 0.001)
    assert isinstance(sim.clob("/neg-risk", token_id=yes)["neg_risk"], bool)
    assert sim.clob("/fee-rate", token_id=yes) == {"base_fee": 0}
    assert int(sim.clob("/time")) == int(sim.control.now())
    lt = sim.post("PM_CLOB_URL", "/last-trades-prices", [{"token_id": yes}, {"token_id": no}]).json()
    assert [x["token_id"] for x in lt] == [yes, no]
    spreads = sim.post("PM_CLOB_URL", "/spreads", [{"token_id": yes}]).json()
    assert spreads[yes] == sim.clob("/spread", token_id=yes)["spread"]
    simple = sim.clob("/simplified-markets")
    assert set(simple["data"][0]) == {
        "condition_id",
        "rewards",
        "tokens",
        "active",
        "closed",
        "archived",
        "accepting_orders",
    }


def _whale_trades(flow: float):
    w = World(13, 120, START_TS, 0, flow)
    out = []
    for m in w.catalog.markets:
        if m.outcome == "INVALID" or m.resolved_at < START_TS:
            continue
        out.extend(
            tr for tr in w.micro.trades_between(m, int(START_TS * 1000), int((START_TS + 4 * 3600) * 1000))
        )
    return out


def _towards_outcome(trades) -> float:
    whales = [tr for tr in trades if tr.whale]
    good = sum(((tr.token_index == 0) == (tr.market.outcome == "YES")) == (tr.side == "BUY") for tr in whales)
    return good / len(whales)


def test_heavy_tailed_sizes_and_informed_flow():
    uninformed = _whale_trades(0.0)
    informed = _whale_trades(1.0)
    notional = [tr.notional for tr in uninformed]
    assert len(notional) > 500
    assert (
        any(n >= 25_000 for n in notional) and 0.01 < sum(n >= 1000 for n in notional) / len(notional) < 0.15
    )
    assert {tr.side for tr in uninformed} == {"BUY", "SELL"} and {tr.token_index for tr in uninformed} == {
        0,
        1,
    }
    assert 0.35 < _towards_outcome(uninformed) < 0.65
    assert _towards_outcome(informed) > 0.95


def test_batch_prices_history_matches_single(sim):
    sim.control.set_time(START_TS)
    page = sim.gamma("/markets", limit=3)
    toks = [json.loads(m["clobTokenIds"])[i] for m in page for i in (0, 1)]
    body = {"markets": toks, "start_ts": int(START_TS) - 6 * 3600, "end_ts": int(START_TS), "fidelity": 30}
    got = sim.post("PM_CLOB_URL", "/batch-prices-history", body).json()["history"]
    assert set(got) == set(toks)
    for tok in toks:
        single = sim.clob(
            "/prices-history", market=tok, startTs=body["start_ts"], endTs=body["end_ts"], fidelity=30
        )
        assert got[tok] == single["history"] and got[tok]
    yes, no = toks[0], toks[1]
    assert all(abs(a["p"] + b["p"] - 1) < 1e-9 for a, b in zip(got[yes], got[no]))
    r = sim.post("PM_CLOB_URL", "/batch-prices-history", {"markets": toks * 4, "start_ts": 1, "end_ts": 2})
    assert r.status_code == 400
