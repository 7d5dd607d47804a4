"""One corrupt, empty or wrong-schema incoming file among good ones: quarantined alone, the rest lands.

Real files written by the recorder's own Writer, real runs (`dg.materialize`), the real lake and quarantine.
"""

from __future__ import annotations

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from polymarket_assets.defs.trades.assets import book_updates, trades, ws_gaps, ws_raw_frames
from polymarket_assets.lib.incoming import HOUR_COLUMN, INCOMING_BOOK_UPDATES_SCHEMA, NAME_RE
from polymarket_assets.lib.parquet_store import Lake

from .conftest import HOUR, book_update, resources, write, ws_trade

PK = "2026-11-24-10:00"


def rel(path) -> str:
    return f"{path.parent.parent.name}/{path.parent.name}/{path.name}"


def spoil(path, how: str) -> None:
    """Turn a file written by the Writer into a bad one (the recorder never does: this is disk trouble or a
    foreign writer)."""
    if how == "corrupt":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2] + b"\x00garbage\xff" + data[len(data) // 2 + 11 :])
    elif how == "truncated":
        path.write_bytes(path.read_bytes()[:-20])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "wrong_schema":
        pq.write_table(pa.table({"something": ["else"], "price": ["not a number"]}), path)
    elif how == "wrong_types":
        table = pq.read_table(path)
        column = table.schema.get_field_index("price") if "price" in table.schema.names else 0
        pq.write_table(
            table.set_column(column, table.schema.names[column], pa.array(["x"] * table.num_rows)), path
        )
    elif how == "rows_outside_hour":
        table = pq.read_table(path)
        name = HOUR_COLUMN[NAME_RE.fullmatch(path.name)["kind"]]
        moved = pa.array(
            [v.as_py().replace(year=2030) if v.is_valid else None for v in table.column(name)],
            table.schema.field(name).type,
        )
        pq.write_table(table.set_column(table.schema.get_field_index(name), name, moved), path)
    else:
        raise AssertionError(how)


def materialize(asset, data_dir, files_list):
    op = asset.op.name
    return dg.materialize(
        [asset],
        partition_key=PK,
        resources=resources(data_dir),
        run_config={"ops": {op: {"config": {"files": files_list}}}},
        raise_on_error=True,
    )


def quarantine_rows(data_dir) -> list[dict]:
    return [
        r
        for p in sorted(data_dir.glob("quarantine/source=ws_ingest/*/*.parquet"))
        for r in pq.read_table(p).to_pylist()
    ]


BAD = ["corrupt", "truncated", "empty", "wrong_schema", "wrong_types", "rows_outside_hour"]


@pytest.mark.parametrize("how", BAD)
def test_a_bad_trades_file_is_quarantined_alone_and_the_good_ones_land(data_dir, how):
    [good1] = write(data_dir, "trades", [ws_trade("t1", HOUR * 1000 + 1), ws_trade("t2", HOUR * 1000 + 2)])
    [bad] = write(data_dir, "trades", [ws_trade("t3", HOUR * 1000 + 3)])
    [good2] = write(data_dir, "trades", [ws_trade("t4", HOUR * 1000 + 4)])
    raw = bad.read_bytes()
    spoil(bad, how)
    spoiled = bad.read_bytes()
    result = materialize(trades, data_dir, [rel(good1), rel(bad), rel(good2)])
    assert result.success
    assert sorted(r["trade_uid"] for r in Lake(data_dir).read("trades").to_pylist()) == ["t1", "t2", "t4"]
    mat = result.asset_materializations_for_node("trades")[0].metadata
    assert mat["files_quarantined"].value == 1 and mat["files"].value == 2
    [row] = quarantine_rows(data_dir)
    assert rel(bad) in row["context"] and row["reason"]
    assert row["raw"] is not None and (len(spoiled) == 0 or len(row["raw"]) > 0)
    moved = data_dir / "quarantine" / "incoming_files" / (rel(bad) + ".quarantined")
    assert moved.read_bytes() == spoiled, "the raw bytes are kept whole"
    assert spoiled != raw or how == "wrong_types"
    assert not bad.exists() and not good1.exists(), "good files are removed once ingested, the bad one moved"
    # A re-run of the partition (by hand, no files) succeeds and keeps every good row.
    again = dg.materialize([trades], partition_key=PK, resources=resources(data_dir), raise_on_error=True)
    assert again.success and Lake(data_dir).read("trades").num_rows == 3


@pytest.mark.parametrize("how", ["corrupt", "empty", "wrong_schema", "rows_outside_hour"])
def test_a_bad_book_or_raw_file_is_never_linked_into_the_lake(data_dir, how):
    [good] = write(data_dir, "book_updates", [book_update(HOUR * 1000 + 1)])
    [bad] = write(data_dir, "book_updates", [book_update(HOUR * 1000 + 2, 2)])
    spoil(bad, how)
    materialize(book_updates, data_dir, [rel(good), rel(bad)])
    linked = sorted(p.name for p in (data_dir / "lake" / "book_updates").rglob("*.parquet"))
    assert linked == [good.name]
    [raw_good] = write(data_dir, "raw_frames", [(HOUR * 10**6 + 5, "r", "c00", 2, '{"event_type":"book"}')])
    [raw_bad] = write(data_dir, "raw_frames", [(HOUR * 10**6 + 6, "r", "c00", 3, '{"event_type":"book"}')])
    spoil(raw_bad, how)
    materialize(ws_raw_frames, data_dir, [rel(raw_good), rel(raw_bad)])
    assert sorted(p.name for p in (data_dir / "raw" / "ws_market").rglob("*.parquet")) == [raw_good.name]
    assert len(quarantine_rows(data_dir)) == 2


def test_a_bad_gaps_file_is_quarantined_and_the_good_gaps_land(data_dir):
    gap = (
        "g1",
        "r",
        "c00",
        HOUR * 1000 + 5,
        HOUR * 1000 + 65_000,
        "disconnect",
        "reset",
        40,
        None,
        HOUR * 10**6,
    )
    [good] = write(data_dir, "ws_gaps", [gap])
    [bad] = write(data_dir, "ws_gaps", [("g2",) + gap[1:]])
    spoil(bad, "wrong_schema")
    materialize(ws_gaps, data_dir, [rel(good), rel(bad)])
    assert [r["gap_id"] for r in Lake(data_dir).read("ws_gaps").to_pylist()] == ["g1"]


def test_a_castable_layout_is_written_converted_not_linked(data_dir):
    [f] = write(data_dir, "book_updates", [book_update(HOUR * 1000 + 1)])
    table = pq.read_table(f)
    pq.write_table(table.select(list(reversed(table.schema.names))), f)  # same columns, another order
    materialize(book_updates, data_dir, [rel(f)])
    [linked] = (data_dir / "lake" / "book_updates").rglob("*.parquet")
    assert pq.read_schema(linked).names == INCOMING_BOOK_UPDATES_SCHEMA.names


def test_stale_temporaries_in_the_partition_are_removed_and_never_read(data_dir):
    import os
    import time

    directory = data_dir / "lake" / "trades" / "date=2026-11-24" / "hour=10"
    directory.mkdir(parents=True)
    stale = directory / ".tmp-0123abcd-part-x.parquet.partial"
    stale.write_bytes(b"half a file")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    fresh = directory / ".tmp-4567-part-y.parquet.partial"  # a live writer's: too young to be removed
    fresh.write_bytes(b"in flight")
    [f] = write(data_dir, "trades", [ws_trade("t1", HOUR * 1000 + 1)])
    materialize(trades, data_dir, [rel(f)])
    assert not stale.exists() and fresh.exists()
    assert [r["trade_uid"] for r in Lake(data_dir).read("trades").to_pylist()] == ["t1"]
