"""Simulator throughput at 50,000 markets: Gamma pages/s, 100-token /books batches/s, WS messages/s in a burst.

run() starts the simulator in a subprocess (rate limits and faults off, clock paused), drives it from this
process over 127.0.0.1, and returns the three headline figures plus the server-side times per request taken
from the Server-Timing header.
"""

from __future__ import annotations

import json
import statistics
import threading
import time

import requests
import websocket

from polymarket_sim import run_sim

N_MARKETS = 50_000
GAMMA_PAGES = 150
BOOK_BATCHES = 100
WS_BURST = 50_000
WS_MARKETS = 200


def _server_ms(r: requests.Response) -> float:
    return float(r.headers["Server-Timing"].split("dur=")[1])


def _gamma(s: requests.Session, base: str) -> tuple[float, list[float], list[list[str]]]:
    """Keyset-page through open markets (cold: every page is new markets); returns pages/s, server ms, tokens."""
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
        tokens.extend(json.loads(m["clobTokenIds"]) for m in body["markets"])
        cursor = body.get("next_cursor")
    return GAMMA_PAGES / (time.perf_counter() - t0), server, tokens


def _books(s: requests.Session, base: str, pairs: list[list[str]]) -> tuple[float, list[float]]:
    flat = [t for p in pairs for t in p]
    server = []
    t0 = time.perf_counter()
    for i in range(BOOK_BATCHES):
        batch = flat[(i * 100) % len(flat):(i * 100) % len(flat) + 100]
        r = s.post(base + "/books", json=[{"token_id": t} for t in batch], timeout=60)
        assert r.status_code == 200 and len(r.json()) == len(batch), r.text[:200]
        server.append(_server_ms(r))
    return BOOK_BATCHES / (time.perf_counter() - t0), server


def _ws(urls: dict, control, pairs: list[list[str]]) -> float:
    ws = websocket.create_connection(urls["PM_WS_URL"], timeout=30)
    try:
        assets = [t for p in pairs[:WS_MARKETS] for t in p]
        ws.send(json.dumps({"assets_ids": assets, "type": "market", "custom_feature_enabled": False}))
        ws.recv()  # the initial book dump
        done = threading.Event()
        result: dict = {}

        def trigger() -> None:
            result["burst"] = control.ws_burst(WS_BURST)
            done.set()

        got = 0
        t0 = time.perf_counter()
        threading.Thread(target=trigger, daemon=True).start()
        while got < WS_BURST:
            frame = ws.recv()
            got += frame.count('"event_type"')
        elapsed = time.perf_counter() - t0
        done.wait(30)
        return got / elapsed
    finally:
        ws.close()


def run() -> dict:
    with run_sim(markets=N_MARKETS, seed=7, speed=0, faults="none", rate_limit="off", startup_timeout=120) as sim:
        s = requests.Session()
        gamma_rate, gamma_ms, pairs = _gamma(s, sim.urls["PM_GAMMA_URL"])
        books_rate, books_ms = _books(s, sim.urls["PM_CLOB_URL"], pairs)
        ws_rate = _ws(sim.urls, sim.control, pairs)
    return {
        "sim_gamma_pages_per_s": round(gamma_rate, 1),
        "sim_books_batches_per_s": round(books_rate, 1),
        "sim_ws_msgs_per_s": round(ws_rate, 1),
        "sim_gamma_page_server_ms_median": round(statistics.median(gamma_ms), 2),
        "sim_gamma_page_server_ms_p95": round(sorted(gamma_ms)[int(0.95 * len(gamma_ms))], 2),
        "sim_books_batch_server_ms_median": round(statistics.median(books_ms), 2),
        "sim_books_batch_server_ms_p95": round(sorted(books_ms)[int(0.95 * len(books_ms))], 2),
        "markets": N_MARKETS,
    }


if __name__ == "__main__":
    print(json.dumps(run()))
