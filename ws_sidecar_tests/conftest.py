"""A real recorder process against a real simulator over sockets on 127.0.0.1, plus helpers to read what it wrote."""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from polymarket_assets.lib.incoming import list_incoming
from polymarket_assets_tests.time_contract import placeholder_times  # noqa: F401 (a fixture)
from polymarket_sim import run_sim
from polymarket_tools.sim_truth import compare_with_truth, seed_markets_from_sim

START = "2026-11-25T06:00:00Z"

# Fast settings so a test sees flushes, audits and the watchdog within seconds (the audit interval and overlap
# are simulated seconds; settle is wall seconds).
FAST = {
    "flush_interval_s": 1,
    "status_interval_s": 0.2,
    "refresh_s": 2,
    "settle_s": 2,
    "audit_interval_s": 20,
    "audit_overlap_s": 60,
    "hash_check_interval_s": 3,
}


@pytest.fixture(scope="module")
def live_sim():
    """Running at 5 simulated seconds per second, so markets trade and books move during a short test."""
    with run_sim(markets=60, seed=3, speed=5, faults="none", start=START, rate_limit="off") as sim:
        yield sim
        assert sim.control.stats()["internal_errors"] == 0


def seeded_dir(tmp_path: Path, sim, condition_ids=None) -> tuple[Path, list[dict]]:
    data_dir = tmp_path / "data"
    rows = seed_markets_from_sim(data_dir, sim.control, condition_ids)
    return data_dir, [r for r in rows if r["discovery_status"] == "open"]


def read_kind(data_dir: Path, kind: str) -> list[dict]:
    tables = [pq.read_table(f.path) for f in list_incoming(data_dir, [kind])]
    return pa.concat_tables(tables).to_pylist() if tables else []


def wait(predicate, timeout_s: float, what: str, poll_s: float = 0.1):
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(poll_s)


def capture(data_dir: Path, sim, cids, start: float, end: float) -> dict:
    """Recorded trades (incoming files) against the simulator's ground truth over [start, end]."""
    recorded = [
        (
            r["asset_id"],
            r["side"],
            r["size"],
            r["price"],
            int(r["exchange_ts"].timestamp() * 1000),
            r["condition_id"],
        )
        for r in read_kind(data_dir, "trades")
    ]
    return compare_with_truth(recorded, sim.control, cids, start, end)


def rebuild_books(rows: list[dict]) -> dict[str, dict]:
    """Replay recorded book updates (snapshots and level changes, in application order) into books."""
    books: dict[str, dict] = defaultdict(lambda: {"bids": {}, "asks": {}})
    for r in sorted(rows, key=lambda r: (r["received_at"], r["seq"])):
        if r["kind"] == "snapshot":
            books[r["asset_id"]] = {
                "bids": {x["price"]: x["size"] for x in r["bids"] if x["size"] > 0},
                "asks": {x["price"]: x["size"] for x in r["asks"] if x["size"] > 0},
            }
        elif r["kind"] == "change":
            side = books[r["asset_id"]]["bids" if r["side"] == "BUY" else "asks"]
            if r["size"] > 0:
                side[r["price"]] = r["size"]
            else:
                side.pop(r["price"], None)
    return books
