"""Two `whale_events` materializations of one partition racing (forked processes, many rounds) while a reader
polls it: the partition always holds exactly one run's rows, never none and never both."""

from __future__ import annotations

import multiprocessing

import dagster as dg

from polymarket_assets.defs.trades.assets import trades, whale_events
from polymarket_assets.lib.parquet_store import Lake

from .conftest import HOUR, resources, write, ws_trade
from .test_ingest_assets import PK, rel, seed_market

ROUNDS = 8
PARTS = {"date": "2026-11-24", "hour": "10"}


def _materialize_in_rounds(data_dir: str, rounds: int, barrier, results) -> None:
    ok = True
    for _ in range(rounds):
        barrier.wait(timeout=120)
        ok &= dg.materialize(
            [whale_events], partition_key=PK, resources=resources(data_dir), raise_on_error=False
        ).success
    results.put(ok)


def test_racing_whale_events_materializations_never_leave_the_partition_empty_or_doubled(data_dir):
    seed_market(data_dir)
    rows = [ws_trade(f"w{i}", HOUR * 1000 + 1000 * i, price=0.5, size=40_000.0) for i in range(30)]
    [f] = write(data_dir, "trades", rows)
    assert dg.materialize(
        [trades],
        partition_key=PK,
        resources=resources(data_dir),
        run_config={"ops": {"trades": {"config": {"files": [rel(f)]}}}},
    ).success
    assert dg.materialize([whale_events], partition_key=PK, resources=resources(data_dir)).success
    lake = Lake(data_dir)
    expected = lake.read("whale_events", PARTS).num_rows
    assert expected == 30

    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    workers = [
        ctx.Process(target=_materialize_in_rounds, args=(str(data_dir), ROUNDS, barrier, results))
        for _ in range(2)
    ]
    for w in workers:
        w.start()
    polls = 0
    try:
        while any(w.is_alive() for w in workers):
            table = lake.read("whale_events", PARTS, columns=["trade_uid"])
            n = 0 if table is None else table.num_rows
            assert n == expected, f"whale_events holds {n} rows during a race, not {expected}"
            polls += 1
    finally:
        for w in workers:
            w.join(timeout=120)
    assert [results.get(timeout=5) for _ in workers] == [True, True]
    assert lake.read("whale_events", PARTS).num_rows == expected and polls > 0
