"""The recorder refreshing its universe while `markets_current` is being replaced, or cannot be read at all,
keeps every subscription: a failed read is never taken for "no markets"."""

from __future__ import annotations

import threading
import time

import pyarrow as pa

from polymarket_assets.lib.parquet_store import REPLACED_FILE, Lake
from polymarket_assets.lib.schemas import MARKET_CURRENT_SCHEMA
from polymarket_tools.sidecar import run_sidecar

from .conftest import FAST, seeded_dir


def test_refreshes_during_replaces_and_unreadable_reads_keep_every_subscription(live_sim, tmp_path):
    sim = live_sim
    live = sorted(m["condition_id"] for m in sim.control.markets() if m["state"] != "resolved")[:20]
    data_dir, markets = seeded_dir(tmp_path, sim, live)
    table = Lake(data_dir).read("markets_current").select(MARKET_CURRENT_SCHEMA.names)
    settings = {**FAST, "refresh_s": 0.2}
    with run_sidecar(sim.env, data_dir, assets_per_connection=40, **settings) as sc:
        status = sc.wait_for(
            lambda s: s["subscribed_markets"] == len(markets) and s["connections_live"] == 1, 30, "all live"
        )
        reconnects = status["connections"][0]["reconnects"]

        # Discovery replacing the table over and over (the same markets) while the recorder refreshes 5x a second.
        stop = threading.Event()

        def replace_forever() -> None:
            lake = Lake(data_dir)
            while not stop.is_set():
                lake.replace_partition(
                    "markets_current", pa.Table.from_batches(table.to_batches(), table.schema), {}
                )

        writer = threading.Thread(target=replace_forever)
        writer.start()
        seen = []
        try:
            deadline = time.monotonic() + 4
            while time.monotonic() < deadline:
                seen.append(sc.status()["subscribed_markets"])
                time.sleep(0.05)
        finally:
            stop.set()
            writer.join()
        assert set(seen) == {len(markets)}, f"subscriptions changed during replaces: {sorted(set(seen))}"

        # A file that cannot be read at all: the previous universe stays, and the status says why.
        (data_dir / "lake" / "markets_current" / REPLACED_FILE).write_bytes(b"not a parquet file")
        status = sc.wait_for(
            lambda s: s.get("universe_kept", 0) >= 3 or s["subscribed_markets"] == 0,
            10,
            "refreshes over the unreadable table",
        )
        assert status["subscribed_markets"] == len(markets), "an unreadable table closed the subscriptions"
        assert "unreadable" in status["universe_last_problem"]
        time.sleep(0.5)
        status = sc.status()
        assert status["subscribed_markets"] == len(markets) and status["connections_live"] == 1
        assert status["connections"][0]["reconnects"] == reconnects
        assert "unsubscribed" not in status["gaps_last_hour_by_reason"]
