"""The incoming-file contract: names, atomic writes, listing, hour splitting and key order, market selection."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pyarrow.parquet as pq
import pytest

from polymarket_assets.lib.incoming import (
    INCOMING_TRADES_SCHEMA,
    NAME_RE,
    day_of_ms,
    file_name,
    hour_of_epoch_s,
    incoming_root,
    key_ms,
    list_incoming,
    resolve_relpath,
)
from ws_sidecar import files
from ws_sidecar.universe import Market, ShardPlan, select
from ws_sidecar.writer import Writer

HOUR = 1_795_586_400  # 2026-11-25T06:00:00Z


class FixedClock:
    def __init__(self, us: int):
        self.us = us

    def now_us(self) -> int:
        return self.us


def trade_row(ts_ms: int, uid: str) -> tuple:
    return (
        uid,
        "ws",
        "1" * 77,
        "0x" + "a" * 64,
        "BUY",
        0.5,
        10.0,
        0.0,
        ts_ms,
        ts_ms * 1000,
        None,
        None,
        None,
        "c00",
        "r1",
    )


def test_names_round_trip_and_foreign_names_are_rejected(tmp_path):
    name = file_name("trades", "20261125T06", 1_795_595_000_123, 7, "0a1b2c3d")
    assert name == "trades-20261125T06-1795595000123-00000007-0a1b2c3d.parquet"
    m = NAME_RE.fullmatch(name)
    assert (m["kind"], m["hour"], m["key"]) == ("trades", "20261125T06", "1795595000123-00000007-0a1b2c3d")
    for bad in (
        ".tmp-x-" + name,
        name + ".partial",
        "trades-2026112506-1-1-x.parquet",
        "../" + name,
        name.replace("trades", "secrets"),
    ):
        assert NAME_RE.fullmatch(bad) is None
    with pytest.raises(ValueError):
        file_name("trades", "2026-11-25", 1, 1, "0a1b2c3d")


def test_writer_splits_by_hour_names_in_rename_order_and_leaves_no_temporaries(tmp_path):
    flushed = []
    writer = Writer(
        tmp_path,
        "0a1b2c3d",
        FixedClock(HOUR * 10**6),
        first_key_ms=10**13 - 10**12,
        on_flushed=lambda cut, last: flushed.append((cut, last)),
    )
    rows = [trade_row(HOUR * 1000 - 1, "a"), trade_row(HOUR * 1000, "b"), trade_row(HOUR * 1000 + 5, "c")]
    writer.add_rows("trades", rows)
    writer.add_rows(
        "ws_gaps",
        [("g1", "r", "c00", HOUR * 1000, HOUR * 1000 + 10, "disconnect", "x", 2, None, HOUR * 10**6)],
    )
    paths = writer.flush()
    listed = sorted(list_incoming(tmp_path), key=lambda f: f.key)
    assert [f.path for f in listed] == paths  # key order == rename order
    assert [(f.kind, f.hour) for f in listed] == [
        ("trades", "20261125T05"),
        ("trades", "20261125T06"),
        ("ws_gaps", "20261125T06"),
    ]
    assert [f.partition_key for f in listed[:2]] == ["2026-11-25-05:00", "2026-11-25-06:00"]
    assert pq.read_table(listed[1].path).column("trade_uid").to_pylist() == ["b", "c"]
    assert pq.read_table(listed[0].path).schema == INCOMING_TRADES_SCHEMA
    assert not [p for p in tmp_path.rglob(".*")], "no temporary file survives a completed write"
    assert flushed == [(HOUR * 10**6, key_ms(listed[-1].key))]
    assert writer.files_written == {"trades": 2, "ws_gaps": 1}


def test_listing_ignores_temporaries_symlinks_and_foreign_files(tmp_path):
    writer = Writer(tmp_path, "0a1b2c3d", FixedClock(0))
    writer.add_rows("trades", [trade_row(HOUR * 1000, "a")])
    [good] = writer.flush()
    day = good.parent
    (day / (".tmp-123-" + good.name)).write_bytes(b"partial")
    (day / "notes.txt").write_text("x")
    os.symlink(good, day / good.name.replace("-00000001-", "-00000009-"))
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, incoming_root(tmp_path) / "trades" / "day=2026-01-01")
    assert [f.path for f in list_incoming(tmp_path)] == [good]
    rel = f"trades/{day.name}/{good.name}"
    assert resolve_relpath(tmp_path, rel).path == good
    for bad in (
        "trades/../../etc/passwd",
        f"trades/{day.name}/.tmp-123-{good.name}",
        f"book_updates/{day.name}/{good.name}",
        f"trades/{day.name}/" + good.name.replace("-00000001-", "-00000009-"),
        "x/y",
    ):
        assert resolve_relpath(tmp_path, bad) is None, bad
    assert files.remove_temporaries(tmp_path) == 1
    assert good.exists()


def test_killed_write_leaves_only_a_hidden_temporary(tmp_path, monkeypatch):
    import pyarrow as pa

    target = (
        tmp_path
        / "incoming"
        / "trades"
        / "day=2026-11-25"
        / file_name("trades", "20261125T06", 1, 1, "0a1b2c3d")
    )

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("killed during rename")

    monkeypatch.setattr(files.os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        files.write_atomic(pa.table({"x": [1]}), target)
    assert not target.exists() and list(list_incoming(tmp_path)) == []


def m(cid: str, tier: str, end: float | None = None) -> Market:
    return Market(cid, cid + "y", cid + "n", end, tier)


def test_selection_always_takes_fast_tiers_and_fills_the_budget_nearest_to_close_first():
    markets = [
        m("a", "T0", 500),
        m("b", "T3", 100),
        m("c", "T1", 300),
        m("d", "T1", 200),
        m("e", "STALE", 1),
        m("f", "T4", 50),
        m("g", "T2", None),
    ]
    picked = select(markets, always_tiers=("T2", "T3", "T4"), capacity_markets=5, fill_budget=True)
    assert [x.condition_id for x in picked] == ["f", "b", "g", "d", "c"]
    assert [
        x.condition_id
        for x in select(markets, always_tiers=("T2", "T3", "T4"), capacity_markets=2, fill_budget=True)
    ] == ["f", "b", "g"]  # always-tiers exceed the budget
    assert [
        x.condition_id
        for x in select(
            markets, always_tiers=("T2", "T3", "T4"), capacity_markets=9, fill_budget=False, exclude={"b"}
        )
    ] == ["f", "g"]


def test_shards_hold_both_tokens_and_markets_never_move():
    plan = ShardPlan(assets_per_connection=4)  # two markets per connection
    shards = plan.update([m("a", "T2"), m("b", "T2"), m("c", "T2")])
    assert {s: sorted(v) for s, v in shards.items()} == {0: ["a", "b"], 1: ["c"]}
    shards = plan.update([m("b", "T2"), m("c", "T2"), m("d", "T2"), m("e", "T2")])
    assert {s: sorted(v) for s, v in shards.items()} == {0: ["b", "d"], 1: ["c", "e"]}
    assert all(len({t for mk in v.values() for t in mk.tokens}) <= 4 for v in shards.values())
    shards = plan.update([m("e", "T2")])
    assert {s: sorted(v) for s, v in shards.items()} == {1: ["e"]}


def test_hour_helpers():
    assert hour_of_epoch_s(HOUR + 3599.9) == "20261125T06"
    assert day_of_ms(HOUR * 1000) == "2026-11-25"
    assert datetime(2026, 11, 25, 6, tzinfo=UTC).timestamp() == HOUR
