"""`lake_compaction_job`: every closed hour of the lake and the raw archive ends as one file with the same
rows, open hours are left alone, ingestion never links a compacted member in again, and readers never see
the rows twice."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import dagster as dg
import duckdb
import pyarrow as pa

from polymarket_assets.defs.maintenance.jobs import lake_compaction_job
from polymarket_assets.defs.trades.assets import book_updates, ws_raw_frames
from polymarket_assets.lib.compaction import MEMBERS_FILE, compact_partition
from polymarket_assets.lib.parquet_store import DataLocation, Lake
from polymarket_assets_tests.trades.conftest import HOUR, book_update, resources, write

PK = "2026-11-24-10:00"
PARTS = {"date": "2026-11-24", "hour": "10"}
LOOKBACK = {"ops": {"compact_closed_hours": {"config": {"lookback_hours": 24 * 400}}}}


def book_row(seq: int) -> tuple:
    ms = HOUR * 1000 + seq * 1000
    return book_update(
        ms, seq, received_us=ms * 1000 + 5, size=float(seq), book_hash=None, best_ask=0.51, tick_size=0.01
    )


def frame_row(seq: int) -> tuple:
    return ((HOUR + seq) * 10**6, "r", "c00", seq, f'{{"n":{seq}}}')


def add_incoming(data_dir, n: int, first: int = 0) -> None:
    for i in range(first, first + n):
        write(data_dir, "book_updates", [book_row(i)], run_id=f"{i:08x}")
        write(data_dir, "raw_frames", [frame_row(i)], run_id=f"{i:08x}")


def ingest(data_dir) -> dict:
    result = dg.materialize([book_updates, ws_raw_frames], partition_key=PK, resources=resources(data_dir))
    assert result.success
    materializations = [
        e.event_specific_data.materialization for e in result.get_asset_materialization_events()
    ]
    return {m.asset_key.path[-1]: m.metadata["files_added"].value for m in materializations}


def compact(data_dir) -> dict:
    result = lake_compaction_job.execute_in_process(run_config=LOOKBACK, resources=resources(data_dir))
    assert result.success
    [output] = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    return {k: v.value for k, v in output.event_specific_data.metadata.items()}


def book_dir(data_dir):
    return data_dir / "lake" / "book_updates" / "date=2026-11-24" / "hour=10"


def seqs(data_dir) -> list[int]:
    return sorted(Lake(data_dir).read("book_updates", PARTS, columns=["seq"]).column("seq").to_pylist())


def test_closed_hours_become_one_file_with_the_same_rows_and_open_hours_stay(data_dir):
    add_incoming(data_dir, 12)
    assert ingest(data_dir) == {"book_updates": 12, "ws_raw_frames": 12}
    lake = Lake(data_dir)
    for stem in ("slot-a", "slot-b", "slot-c"):
        lake.write("snapshots", pa.table({"x": [1, 2]}), {"tier": "T1", **PARTS}, stem)
    now = datetime.now(UTC)
    open_parts = {"tier": "T1", "date": f"{now:%Y-%m-%d}", "hour": f"{now:%H}"}
    for stem in ("slot-a", "slot-b"):
        lake.write("snapshots", pa.table({"x": [3]}), open_parts, stem)
    before = seqs(data_dir)

    figures = compact(data_dir)
    assert figures["partitions_compacted"] == 3 and figures["files_before"] == 12 + 12 + 3
    assert figures["max_files_per_partition_after"] == 1
    assert next(p.name for p in lake.files("book_updates", PARTS)).startswith("compacted-")
    assert len(lake.files("book_updates", PARTS)) == 1
    assert len(DataLocation(data_dir).parquet_files(str(data_dir / "raw" / "ws_market"))) == 1
    assert len(lake.files("snapshots", {"tier": "T1", **PARTS})) == 1
    assert len(lake.files("snapshots", open_parts)) == 2, "an open hour is never compacted"
    assert seqs(data_dir) == before
    assert lake.read("snapshots", {"tier": "T1", **PARTS}).column("x").to_pylist() == [1, 2] * 3
    assert (book_dir(data_dir) / MEMBERS_FILE).exists()

    # The DuckDB views read the compacted file with its hive columns.
    glob = str(data_dir / "lake" / "book_updates" / "**" / "*.parquet")
    assert duckdb.sql(
        f"SELECT count(*) FROM read_parquet('{glob}', hive_partitioning=true) WHERE hour = 10"
    ).fetchone() == (12,)

    # A re-run of the hour with every incoming file links none of the compacted members again.
    assert ingest(data_dir) == {"book_updates": 0, "ws_raw_frames": 0}
    assert seqs(data_dir) == before

    # A late file for the hour lands beside the compacted file, and the next compaction merges it too.
    add_incoming(data_dir, 1, first=12)
    assert ingest(data_dir) == {"book_updates": 1, "ws_raw_frames": 1}
    assert compact(data_dir)["partitions_compacted"] == 2
    assert len(lake.files("book_updates", PARTS)) == 1 and seqs(data_dir) == before + [12]
    assert ingest(data_dir) == {"book_updates": 0, "ws_raw_frames": 0}
    assert compact(data_dir)["partitions_compacted"] == 0


def test_a_reader_during_compactions_never_sees_rows_twice(data_dir):
    lake = Lake(data_dir)
    location = DataLocation(data_dir)
    directory = str(book_dir(data_dir))
    stop, errors, seen = threading.Event(), [], []

    def reader() -> None:
        try:
            while not stop.is_set():
                table = lake.read("book_updates", PARTS, columns=["seq"])
                if table is not None:
                    values = table.column("seq").to_pylist()
                    seen.append(len(values))
                    assert len(values) == len(set(values)), f"rows seen twice: {len(values)} rows"
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            errors.append(exc)

    lake.write("book_updates", pa.table({"seq": [0]}), PARTS, "f-0")
    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(1, 60):
            lake.write("book_updates", pa.table({"seq": [2 * i - 1]}), PARTS, f"f-{2 * i - 1}")
            lake.write("book_updates", pa.table({"seq": [2 * i]}), PARTS, f"f-{2 * i}")
            assert compact_partition(location, directory).atomic
    finally:
        stop.set()
        thread.join()
    assert not errors, errors
    assert seqs(data_dir) == list(range(119)) and seen
    assert len(lake.files("book_updates", PARTS)) == 1
    assert not any((data_dir / ".staging").iterdir()), "no staging directory is left behind"


def test_small_members_are_gathered_into_few_row_groups_in_member_order(data_dir, monkeypatch):
    """One row group per member made a day's compacted snapshot files cost every reader a footer entry per sweep;
    members are gathered into row groups of up to `ROW_GROUP_ROWS` rows instead, without reordering a row."""
    import pyarrow.parquet as pq

    from polymarket_assets.lib import compaction

    lake = Lake(data_dir)
    parts = {"tier": "T1", **PARTS}
    for i in range(30):
        lake.write("snapshots", pa.table({"x": [2 * i, 2 * i + 1]}), parts, f"slot-{i:03d}")
    directory = str(data_dir / "lake" / "snapshots" / "tier=T1" / "date=2026-11-24" / "hour=10")
    monkeypatch.setattr(compaction, "ROW_GROUP_ROWS", 20)
    assert compact_partition(DataLocation(data_dir), directory).atomic
    [compacted] = lake.files("snapshots", parts)
    assert pq.ParquetFile(compacted).metadata.num_row_groups == 3, "60 rows in groups of 20, not 30 groups"
    assert lake.read("snapshots", parts).column("x").to_pylist() == list(range(60))
