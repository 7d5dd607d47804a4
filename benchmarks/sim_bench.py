"""Simulator throughput at 50,000 markets: Gamma pages/s, 100-token /books batches/s, WS messages/s in a burst.

run() starts the simulator in a subprocess (rate limits and faults off, clock paused), drives it from this
process over 127.0.0.1, and returns the three headline figures plus the server-side times per request taken
from the Server-Timing header.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time

import aiohttp
import requests

from polymarket_sim import run_sim

N_MARKETS = 50_000
GAMMA_PAGES = 150
BOOK_BATCHES = 100
WS_BURST = 50_000
WS_MARKETS = 200


def _server_ms(r: requests.Response) -> float:
    return float(r.headers["Server-Timing"].split("dur=")[1])


def _gamma(s: requests.Session, base: str) -> tuple[float, list[float], list[list[str]]]:
    """Keyset-page through GAMMA_PAGES pages of open markets; returns pages/s, server ms per page, tokens."""
    cursor = None
    server, tokens = [], []
    t0 = time.perf_counter()
    for _ in range(GAMMA_PAGES):
        params = {"limit": 100}
        if cursor:
            params["after_cursor"] = cursor
        r = s.get(base + "/markets/keyset", params=params, timeout=60)
        body = r.json()
        server.append(_server_ms(r))
        # The ids a market trades under: `positionIds` for a v2 market (polymarket_api.md §9.6).
        tokens.extend(
            m["positionIds"] if m.get("version") == "v2" else json.loads(m["clobTokenIds"])
            for m in body["markets"]
        )
        cursor = body.get("next_cursor")
    return GAMMA_PAGES / (time.perf_counter() - t0), server, tokens


def _books(s: requests.Session, base: str, pairs: list[list[str]]) -> tuple[float, list[float]]:
    flat = [t for p in pairs for t in p]
    server = []
    t0 = time.perf_counter()
    for i in range(BOOK_BATCHES):
        batch = flat[(i * 100) % len(flat) : (i * 100) % len(flat) + 100]
        r = s.post(base + "/books", json=[{"token_id": t} for t in batch], timeout=60)
        # A market that resolved since its tokens were listed has no book any more and is left out.
        assert r.status_code == 200 and len(r.json()) >= 0.9 * len(batch), r.text[:200]
        server.append(_server_ms(r))
    return BOOK_BATCHES / (time.perf_counter() - t0), server


async def _ws_async(urls: dict, control, assets: list[str]) -> float:
    # aiohttp's client parses frames in C; websocket-client (pure Python) tops out near 7k frames/s and
    # would measure itself rather than the simulator.
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(urls["PM_WS_URL"], max_msg_size=0) as ws,
    ):
        await ws.send_str(
            json.dumps({"assets_ids": assets, "type": "market", "custom_feature_enabled": False})
        )
        await ws.receive()  # the initial book dump
        loop = asyncio.get_running_loop()
        t0 = time.perf_counter()
        burst = loop.run_in_executor(None, control.ws_burst, WS_BURST)
        got = 0
        while got < WS_BURST:
            msg = await ws.receive(timeout=60)
            got += msg.data.count('"event_type"')
        elapsed = time.perf_counter() - t0
        await burst
        return got / elapsed


def _ws(urls: dict, control, pairs: list[list[str]]) -> float:
    """Messages/s received by one client subscribed to WS_MARKETS markets during a ws_burst of WS_BURST."""
    assets = [t for p in pairs[:WS_MARKETS] for t in p]
    return asyncio.run(_ws_async(urls, control, assets))


def _p95(xs: list[float]) -> float:
    return round(sorted(xs)[int(0.95 * len(xs))], 2)


def run() -> dict:
    """First pass: markets never seen before (cold). Second pass, one simulated minute later, is what a
    collector polling every minute sees: static fields cached, every price and book recomputed for the new time.
    The headline figures are the second pass; the cold ones are reported beside them."""
    with run_sim(
        markets=N_MARKETS, seed=7, speed=0, faults="none", rate_limit="off", startup_timeout=120
    ) as sim:
        s = requests.Session()
        cold_rate, cold_ms, pairs = _gamma(s, sim.urls["PM_GAMMA_URL"])
        cold_books_rate, cold_books_ms = _books(s, sim.urls["PM_CLOB_URL"], pairs)
        sim.control.advance(60)
        gamma_rate, gamma_ms, _ = _gamma(s, sim.urls["PM_GAMMA_URL"])
        sim.control.advance(60)
        books_rate, books_ms = _books(s, sim.urls["PM_CLOB_URL"], pairs)
        ws_rate = _ws(sim.urls, sim.control, pairs)
    return {
        "sim_gamma_pages_per_s": round(gamma_rate, 1),
        "sim_books_batches_per_s": round(books_rate, 1),
        "sim_ws_msgs_per_s": round(ws_rate, 1),
        "sim_gamma_page_server_ms_median": round(statistics.median(gamma_ms), 2),
        "sim_gamma_page_server_ms_p95": _p95(gamma_ms),
        "sim_books_batch_server_ms_median": round(statistics.median(books_ms), 2),
        "sim_books_batch_server_ms_p95": _p95(books_ms),
        "sim_gamma_pages_per_s_cold": round(cold_rate, 1),
        "sim_gamma_page_server_ms_median_cold": round(statistics.median(cold_ms), 2),
        "sim_gamma_page_server_ms_p95_cold": _p95(cold_ms),
        "sim_books_batches_per_s_cold": round(cold_books_rate, 1),
        "sim_books_batch_server_ms_median_cold": round(statistics.median(cold_books_ms), 2),
        "markets": N_MARKETS,
    }


if __name__ == "__main__":
    print(json.dumps(run()))
