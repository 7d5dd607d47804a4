"""Protocol V2 markets tracked like v1 ones (`v2_markets_tracked_ratio`, target 1.0).

A paused simulator whose markets all carry `version` (`--v2-since` long before the start), 30 % of them v2
(the simulator's default share) and its default share of `["No", "Yes"]` markets. The library code the assets
call runs once over it:
  * discovery: `list_open_markets` + `market_state_row` + `merge_current` (the `markets` asset's listing),
    written to `markets_current` as the asset writes it;
  * one sweep of every tier at the same instant: `select_markets` then `sweep_books` (T2-T4) or
    `sweep_prices` (T0, T1, STALE), as `capture_slot` does; a market is swept when its row has a book
    (`book_status = 'ok'`) or a midpoint;
  * the recorder (`ws_sidecar`, a real process) started on that `markets_current`; a market is subscribed
    when the websocket sent a `book` snapshot for both of its ids.
A v2 market is tracked when it was discovered with the ids the simulator trades it under (ground truth from
`/control/markets`), swept and subscribed. `v2_markets_tracked_ratio` = tracked v2 markets / open v2 markets
the simulator lists; `v1_markets_tracked_ratio` is the same for v1 markets, for comparison. The load average
is reported beside them. Takes about 30 s.
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from polymarket_assets.defs.resources import PolymarketApiResource
from polymarket_assets.lib import tables
from polymarket_assets.lib.discovery import list_open_markets, market_state_row, merge_current
from polymarket_assets.lib.incoming import list_incoming
from polymarket_assets.lib.parquet_store import Lake
from polymarket_assets.lib.quarantine import Quarantine
from polymarket_assets.lib.raw_archive import RawArchive
from polymarket_assets.lib.schemas import MARKET_CURRENT_SCHEMA
from polymarket_assets.lib.sweep import select_markets, sweep_books, sweep_prices
from polymarket_assets.lib.tiers import DEFAULT_PLAN
from polymarket_sim import run_sim
from polymarket_tools.sidecar import run_sidecar

MARKETS = 400
SEED = 29
START = "2026-11-27T12:00:00Z"
V2_SINCE = "2026-01-01"
RECORDER = {"flush_interval_s": 1, "status_interval_s": 0.2, "refresh_s": 2, "settle_s": 2}


def _discover(urls: dict, data_dir: Path, now: datetime) -> list[dict]:
    polymarket = PolymarketApiResource(
        gamma_url=urls["PM_GAMMA_URL"], clob_url=urls["PM_CLOB_URL"], data_api_url=urls["PM_DATA_API_URL"]
    )
    listing = list_open_markets(
        polymarket.gamma,
        now,
        [],
        Quarantine(data_dir, "gamma_markets"),
        RawArchive(data_dir, "gamma_markets"),
    )
    rows = [market_state_row(m, now) for m in listing.markets.values()]
    current, _, _ = merge_current([], rows, now)
    Lake(data_dir).replace_partition(
        tables.MARKETS_CURRENT.name, pa.Table.from_pylist(current, schema=MARKET_CURRENT_SCHEMA), {}
    )
    return current


def _swept(urls: dict, data_dir: Path, current: list[dict], now: datetime) -> set[str]:
    polymarket = PolymarketApiResource(
        gamma_url=urls["PM_GAMMA_URL"], clob_url=urls["PM_CLOB_URL"], data_api_url=urls["PM_DATA_API_URL"]
    )
    quarantine = Quarantine(data_dir, "snapshots")
    swept: set[str] = set()
    for tier in DEFAULT_PLAN.tiers:
        markets = select_markets(current, tier.name, now)
        if tier.books:
            result = sweep_books(polymarket.clob, markets, tier, now, now, quarantine)
        else:
            result = sweep_prices(polymarket.clob, markets, tier, now, now, quarantine)
        swept |= {
            r["condition_id"]
            for r in result.rows
            if r.get("book_status") == "ok"
            or (r.get("book_status") == "not_requested" and r.get("mid") is not None)
        }
    return swept


def _subscribed(env: dict, data_dir: Path, current: list[dict]) -> set[str]:
    open_markets = [m for m in current if m["discovery_status"] == "open"]
    # The recorder can only subscribe markets discovery gave both ids (a market it could not read has none).
    with_ids = sum(1 for m in open_markets if m["yes_token_id"] and m["no_token_id"])
    with run_sidecar(env, data_dir, **RECORDER) as sc:
        sc.wait_for(
            lambda s: s["subscribed_markets"] == with_ids and s["connections_live"] >= 1,
            60,
            "every market with ids subscribed",
        )
        time.sleep(3)  # the book snapshots' flush
    books = set()
    for f in list_incoming(data_dir, ["book_updates"]):
        table = pq.read_table(f.path, columns=["asset_id", "kind", "source"]).to_pylist()
        books |= {r["asset_id"] for r in table if r["kind"] == "snapshot" and r["source"] == "ws"}
    return {m["condition_id"] for m in open_markets if {m["yes_token_id"], m["no_token_id"]} <= books}


def run(markets: int = MARKETS) -> dict:
    load = round(os.getloadavg()[0], 2)
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="ids_v2_bench_") as tmp,
        run_sim(
            markets=markets, seed=SEED, speed=0.0, start=START, rate_limit="off", v2_since=V2_SINCE
        ) as sim,
    ):
        data_dir = Path(tmp) / "data"
        now = datetime.fromtimestamp(sim.control.now(), tz=UTC)
        truth = [m for m in sim.control.markets() if m["state"] != "resolved"]
        current = _discover(sim.urls, data_dir, now)
        discovered = {
            m["condition_id"]
            for m in current
            if (m["yes_token_id"], m["no_token_id"]) == _truth_ids(truth).get(m["condition_id"])
        }
        swept = _swept(sim.urls, data_dir, current, now)
        subscribed = _subscribed(sim.env, data_dir, current)
    out: dict = {}
    for version in ("v2", "v1"):
        listed = {m["condition_id"] for m in truth if m["version"] == version}
        tracked = listed & discovered & swept & subscribed
        out[f"{version}_markets_listed"] = len(listed)
        out[f"{version}_markets_tracked_ratio"] = round(len(tracked) / len(listed), 4) if listed else None
    out["v2_markets_no_yes_listed"] = sum(
        m["version"] == "v2" and m["outcomes"] == ["No", "Yes"] for m in truth
    )
    out["ids_v2_target_ratio"] = 1.0
    out["ids_v2_loadavg_1m"] = load
    out["ids_v2_elapsed_s"] = round(time.perf_counter() - started, 2)
    return out


def _truth_ids(truth: list[dict]) -> dict[str, tuple[str, str]]:
    return {m["condition_id"]: (m["yes_token_id"], m["no_token_id"]) for m in truth}
