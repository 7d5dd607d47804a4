"""Payloads from the simulator have the key sets and JSON value types of the real samples."""

from __future__ import annotations

import glob
import json
import os

from .shapes import SAMPLES, compare, load


def _gamma_market_samples() -> list[dict]:
    out = []
    for path in glob.glob(str(SAMPLES / "gamma_market*.json")):
        data = load(os.path.basename(path))
        out.extend(data if isinstance(data, list) else [data])
    for ev in load("gamma_events_negrisk_dem_nominee_2028.json"):
        out.extend(ev["markets"])
    # The 2024 legacy/archived markets in the compact captures lack most CLOB-era fields; compare against
    # CLOB-era markets (those with clobTokenIds), which is what the simulator models.
    return [m for m in out if "clobTokenIds" in m]


def _gamma_event_samples() -> list[dict]:
    evs = [dict(e) for e in load("gamma_events_negrisk_dem_nominee_2028.json")]
    for m in _gamma_market_samples():
        evs.extend(m.get("events", []))
    return [{k: v for k, v in e.items() if k != "markets"} for e in evs]


def test_gamma_market_shape_matches_real_samples(sim):
    open_page = sim.gamma("/markets", limit=100)
    closed_page = sim.gamma("/markets", limit=100, closed="true")
    assert open_page and closed_page
    objs = open_page + closed_page
    assert (
        compare("gamma_market", [{k: v for k, v in m.items()} for m in objs], _gamma_market_samples()) == []
    )
    embedded = [e for m in objs for e in m["events"]]
    assert compare("gamma_event", embedded, _gamma_event_samples()) == []


def test_gamma_event_shape_matches_real_samples(sim):
    evs = sim.gamma("/events", limit=50)
    assert evs
    assert (
        compare(
            "gamma_event",
            [{k: v for k, v in e.items() if k != "markets"} for e in evs],
            _gamma_event_samples(),
        )
        == []
    )
    nested = [m for e in evs for m in e["markets"]]
    assert all("events" not in m for m in nested)
    samples = [{k: v for k, v in m.items() if k != "events"} for m in _gamma_market_samples()]
    assert compare("gamma_market", nested, samples) == []


def test_json_encoded_string_fields_are_strings_with_spaced_commas(sim):
    for m in sim.gamma("/markets", limit=50):
        for key in ("outcomes", "outcomePrices", "clobTokenIds", "umaResolutionStatuses"):
            assert isinstance(m[key], str)
            parsed = json.loads(m[key])
            assert isinstance(parsed, list)
            if len(parsed) == 2:
                assert '", "' in m[key]
        assert isinstance(m["volume"], str) and isinstance(m["volumeNum"], float)
        assert float(m["volume"]) == m["volumeNum"]


def test_clob_book_shape_matches_real_samples(sim):
    m = sim.gamma("/markets", limit=20)
    tokens = [json.loads(x["clobTokenIds"])[0] for x in m]
    books = sim.post("PM_CLOB_URL", "/books", [{"token_id": t} for t in tokens]).json()
    samples = [load("clob_book_btc_updown_5m_empty_bids_2026-03-22.json")]
    assert compare("clob_book", books, samples) == []
    for b in books:
        for lvl in b["bids"] + b["asks"]:
            assert (
                set(lvl) == {"price", "size"}
                and isinstance(lvl["price"], str)
                and isinstance(lvl["size"], str)
            )


def test_clob_market_shape_matches_real_samples(sim):
    cm = sim.clob("/markets")["data"]
    open_ = [x for x in cm if not x["closed"]][:20]
    closed = [x for x in cm if x["closed"]][:20]
    assert open_ and closed
    samples = [
        load("clob_market_closed_winner_no_katana_fdv.json"),
        load("clob_market_trump2024_negrisk_open_2024.json"),
    ]
    # accepting_order_timestamp is a string in one sample and null in the other; both are allowed.
    assert compare("clob_market", open_ + closed, samples) == []
    tok_samples = [t for s in samples for t in s["tokens"]]
    assert compare("clob_token", [t for x in open_ + closed for t in x["tokens"]], tok_samples) == []
