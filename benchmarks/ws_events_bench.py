"""The custom websocket events end to end: how fast a `new_market` is subscribed and a `market_resolved` becomes
a provisional resolution row.

run() starts the simulator (paused clock, no faults) and the real recorder process (`ws_sidecar`) against it over
127.0.0.1, with `markets_current` seeded from the simulator's ground truth. It then steps the simulated clock
through `SIM_HOURS` hours in 30-second steps, so markets are created and resolved as on the exchange, and reads
from the simulator's own log when each event left the hub and when each new market's tokens were first
subscribed (wall clock).

- `new_market_to_subscribed_p95_s`: from a `new_market` leaving the hub to the recorder's subscription of both
  its tokens (target <= 5 s).
- `resolution_to_label_p95_s`: from a `market_resolved` leaving the hub to the closed `market_events` file that
  holds its provisional resolution row (`source = ws_market_resolved`; the file's rename time) (target <= 30 s).
  Before the custom events, a label waited for the next `resolutions` run: up to 15 minutes.

Each figure is also given as a ratio to its target (below 1 is within target), with the machine's load average.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

from polymarket_assets.lib.incoming import list_incoming
from polymarket_sim import run_sim
from polymarket_tools.sidecar import run_sidecar
from polymarket_tools.sim_truth import seed_markets_from_sim

START = "2026-11-25T06:00:00Z"
MARKETS = 200
SIM_HOURS = 6.0
STEP_S = 30.0  # the feed arrives in 30-simulated-second slices, closer to a live feed than one large catch-up
NEW_MARKET_TARGET_S = 5.0
RESOLUTION_TARGET_S = 30.0
SETTINGS = {
    "flush_interval_s": 2,
    "status_interval_s": 0.5,
    "refresh_s": 10,
    "data_timeout_s": 120,
    "audit_interval_s": 3600,
    "hash_check_interval_s": 60,
}


def _p95(xs: list[float]) -> float | None:
    return round(sorted(xs)[min(len(xs) - 1, int(0.95 * len(xs)))], 3) if xs else None


def _event_rows_renamed(data_dir: Path) -> dict[tuple[str, str], float]:
    """(event_type, condition_id) -> wall time its market_events file was renamed into place (first one)."""
    out: dict[tuple[str, str], float] = {}
    for f in list_incoming(data_dir, ["market_events"]):
        mtime = os.stat(f.path).st_mtime
        for r in pq.read_table(f.path, columns=["event_type", "condition_id"]).to_pylist():
            key = (r["event_type"], r["condition_id"])
            out[key] = min(out.get(key, mtime), mtime)
    return out


def bench_custom_events(markets: int = MARKETS, sim_hours: float = SIM_HOURS, step_s: float = STEP_S) -> dict:
    with (
        tempfile.TemporaryDirectory(prefix="ws_events_bench-") as tmp,
        run_sim(markets=markets, seed=13, speed=0, faults="none", start=START, rate_limit="off") as sim,
    ):
        data_dir = Path(tmp) / "data"
        seed_markets_from_sim(data_dir, sim.control)
        with run_sidecar(sim.env, data_dir, **SETTINGS) as sc:
            sc.wait_for(
                lambda s: s["connections_live"] == s["connections_total"] > 0 and not s["restart_gap_open"],
                60,
                "live",
            )
            end = sim.control.now() + sim_hours * 3600
            while sim.control.now() < end:
                sim.control.advance(step_s)
            truth = sim.control.ws_custom_events()
            expected = sum(1 for e in truth if e["event_type"] in ("new_market", "market_resolved"))
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and len(_event_rows_renamed(data_dir)) < expected:
                time.sleep(0.5)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and any(
                e["first_subscribed_wall"] is None
                for e in sim.control.ws_custom_events()
                if e["event_type"] == "new_market"
            ):
                time.sleep(0.5)
            truth = sim.control.ws_custom_events()
            status = sc.status()
        renamed = _event_rows_renamed(data_dir)
    created = [e for e in truth if e["event_type"] == "new_market"]
    resolved = [e for e in truth if e["event_type"] == "market_resolved"]
    subscribe_s = [
        e["first_subscribed_wall"] - e["sent_wall"] for e in created if e["first_subscribed_wall"] is not None
    ]
    label_s = [
        renamed[("market_resolved", e["condition_id"])] - e["sent_wall"]
        for e in resolved
        if ("market_resolved", e["condition_id"]) in renamed
    ]
    new_p95, label_p95 = _p95(subscribe_s), _p95(label_s)
    return {
        "new_market_to_subscribed_p95_s": new_p95,
        "new_market_to_subscribed_p95_ratio_to_target": round(new_p95 / NEW_MARKET_TARGET_S, 3)
        if new_p95 is not None
        else None,
        "new_market_to_subscribed_max_s": round(max(subscribe_s), 3) if subscribe_s else None,
        "new_markets_announced": len(created),
        "new_markets_subscribed": len(subscribe_s),
        "resolution_to_label_p95_s": label_p95,
        "resolution_to_label_p95_ratio_to_target": round(label_p95 / RESOLUTION_TARGET_S, 3)
        if label_p95 is not None
        else None,
        "resolution_to_label_max_s": round(max(label_s), 3) if label_s else None,
        "markets_resolved_announced": len(resolved),
        "markets_resolved_provisional_rows": len(label_s),
        "ws_events_markets": markets,
        "ws_events_sim_hours": sim_hours,
        "ws_events_recorder_quarantined": status.get("quarantined"),
        "ws_events_load_avg_1m": round(os.getloadavg()[0], 2),
    }


def run() -> dict:
    return bench_custom_events()


if __name__ == "__main__":
    print(json.dumps(run()))
