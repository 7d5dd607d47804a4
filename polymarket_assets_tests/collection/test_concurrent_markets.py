"""Two `markets` runs of one partition at once (as a manual Materialize during the hourly run would) never
publish an empty or doubled `markets_current`, and never reset `first_seen_at`."""

from __future__ import annotations

import time
from datetime import timedelta

from polymarket_assets.lib.parquet_store import Lake
from polymarket_tools.local_runner import LocalRunPool

from .conftest import HOUR0
from .harness import load_defs, partition_of, run_job

ROUNDS = 6


def test_concurrent_markets_runs_never_publish_an_empty_or_doubled_markets_current(collection_env):
    data_dir, instance = collection_env["data_dir"], collection_env["instance"]
    partition = partition_of(HOUR0 - timedelta(minutes=2))
    assert run_job(load_defs(), instance, "markets_job", partition).success
    lake = Lake(data_dir)
    first = {r["condition_id"]: r["first_seen_at"] for r in lake.read("markets_current").to_pylist()}
    assert first

    seen = []
    with LocalRunPool(workers=2) as pool:
        for _ in range(ROUNDS):
            futures = [pool.submit("markets_job", partition) for _ in range(2)]
            while not all(f.done() for f in futures):
                table = lake.read("markets_current", columns=["condition_id", "first_seen_at"])
                rows = [] if table is None else table.to_pylist()
                ids = [r["condition_id"] for r in rows]
                seen.append(len(ids))
                assert len(ids) == len(first), f"markets_current has {len(ids)} rows, not {len(first)}"
                assert len(set(ids)) == len(ids), "markets_current holds a market twice"
                time.sleep(0.005)
            outcomes = [f.result() for f in futures]
            assert all(o.success for o in outcomes), [o.error for o in outcomes]
    after = {r["condition_id"]: r["first_seen_at"] for r in lake.read("markets_current").to_pylist()}
    assert after == first, "a concurrent run reset first_seen_at"
    assert len(seen) > ROUNDS, "the reader must have looked during the runs"
