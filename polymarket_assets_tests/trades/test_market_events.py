"""`market_events` in the lake: one row per event, and what discovery does with the websocket's sightings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa

from polymarket_assets.defs.markets.assets import undiscovered_ws_markets, ws_sightings
from polymarket_assets.defs.trades.assets import market_events
from polymarket_assets.lib.parquet_store import Lake
from polymarket_assets.lib.schemas import MARKET_EVENTS_SCHEMA

from .conftest import HOUR, write
from .test_ingest_assets import rel, run

T = datetime.fromtimestamp(HOUR, tz=UTC)


def event(kind: str, cid: str, at: datetime, **extra) -> dict:
    return {
        "event_key": f"{kind}:{cid}:{int(at.timestamp() * 1000)}",
        "event_type": kind,
        "source": f"ws_{kind}",
        "condition_id": cid,
        "asset_ids": ["1", "2"],
        "outcomes": ["Yes", "No"],
        "exchange_ts": at,
        "received_at": at + timedelta(milliseconds=40),
        **extra,
    }


def as_tuple(row: dict) -> tuple:
    return tuple(row.get(f.name) for f in MARKET_EVENTS_SCHEMA)


def test_each_event_is_one_row_whatever_the_sockets_and_reruns(data_dir):
    a = event("new_market", "0xa", T + timedelta(seconds=5))
    r = event("market_resolved", "0xb", T + timedelta(seconds=9), outcome="YES", winning_outcome="Yes")
    [f1] = write(data_dir, "market_events", [as_tuple(a), as_tuple(r)])
    [f2] = write(data_dir, "market_events", [as_tuple(a)])  # the same event from a second socket
    for _ in range(2):
        run([market_events], data_dir, {"market_events": {"config": {"files": [rel(f1), rel(f2)]}}})
    rows = Lake(data_dir).read("market_events").to_pylist()
    assert sorted((x["event_type"], x["condition_id"]) for x in rows) == [
        ("market_resolved", "0xb"),
        ("new_market", "0xa"),
    ]


def test_discovery_flags_an_announced_market_it_never_listed():
    lake_rows = [
        event("new_market", "0xlisted", T),
        event("new_market", "0xmissing", T),
        event("new_market", "0xresolved", T),
        event("market_resolved", "0xresolved", T + timedelta(minutes=1)),
        event("new_market", "0xjust_now", T + timedelta(minutes=59)),
    ]

    class FakeLake:
        def read(self, table, columns=None):
            return pa.Table.from_pylist(lake_rows, schema=MARKET_EVENTS_SCHEMA).select(columns)

    seen, resolved = ws_sightings(FakeLake())
    assert seen["0xlisted"] == T and resolved == {"0xresolved"}
    current = [{"condition_id": "0xlisted"}]
    # Discovery listed at T + 1 h: the market announced a minute ago may simply not be listed yet.
    assert undiscovered_ws_markets(
        current, seen, resolved, T + timedelta(hours=1) - timedelta(minutes=2)
    ) == ["0xmissing"]


def test_a_bad_events_file_is_quarantined_alone_and_ingested_files_leave_incoming(data_dir):
    from .test_ingest_bad_files import quarantine_rows, spoil

    a = event("new_market", "0xa", T + timedelta(seconds=5))
    b = event("new_market", "0xb", T + timedelta(seconds=6))
    [good] = write(data_dir, "market_events", [as_tuple(a)])
    [bad] = write(data_dir, "market_events", [as_tuple(b)])
    spoil(bad, "corrupt")
    result = run([market_events], data_dir, {"market_events": {"config": {"files": [rel(good), rel(bad)]}}})
    meta = result.asset_materializations_for_node("market_events")[0].metadata
    assert (
        meta["files"].value == 1
        and meta["files_quarantined"].value == 1
        and meta["incoming_files_removed"].value == 1
    )
    assert [r["condition_id"] for r in Lake(data_dir).read("market_events").to_pylist()] == ["0xa"]
    [row] = quarantine_rows(data_dir)
    assert rel(bad) in row["context"]
    assert not good.exists() and not bad.exists()
    # A re-run by hand (no files, incoming/ now empty) keeps what the partition holds.
    run([market_events], data_dir)
    assert [r["condition_id"] for r in Lake(data_dir).read("market_events").to_pylist()] == ["0xa"]


def test_lake_compaction_waits_for_the_market_events_writer_lock(data_dir):
    import threading

    from polymarket_assets.lib.trades.ingest import partition_lock
    from polymarket_assets_tests.maintenance.test_compaction import compact

    lake = Lake(data_dir)
    parts = {"date": T.strftime("%Y-%m-%d"), "hour": T.strftime("%H")}
    for i, stem in enumerate(("part-a", "part-b")):
        row = event("new_market", f"0x{i}", T + timedelta(seconds=i))
        lake.write("market_events", pa.Table.from_pylist([row], schema=MARKET_EVENTS_SCHEMA), parts, stem)
    with partition_lock(data_dir, "market_events", T.strftime("%Y-%m-%d-%H:00")):
        # The ingestion asset writes the partition under this lock: compaction must not swap it meanwhile.
        compaction = threading.Thread(target=compact, args=(data_dir,))
        compaction.start()
        compaction.join(timeout=5)
        assert compaction.is_alive() and len(lake.files("market_events", parts)) == 2
    compaction.join(timeout=120)
    assert not compaction.is_alive() and len(lake.files("market_events", parts)) == 1
    assert sorted(r["condition_id"] for r in lake.read("market_events").to_pylist()) == ["0x0", "0x1"]
