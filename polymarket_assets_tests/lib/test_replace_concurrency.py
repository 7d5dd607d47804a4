"""`replace_partition` under concurrency: racing writers never leave a partition empty or doubled, and a
reader (Lake.read, DuckDB over the glob the views use, a pyarrow dataset over the directory) sees the old or
the new content, never an error, a missing partition or both."""

from __future__ import annotations

import multiprocessing
import threading

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds

from polymarket_assets.lib.parquet_store import Lake

ROWS = 2_000
PARTS = {"date": "2026-11-25", "hour": "07"}


def _version(tag: int) -> pa.Table:
    return pa.table({"tag": pa.array([tag] * ROWS, pa.int64()), "x": pa.array(range(ROWS), pa.int64())})


def _replace_in_rounds(data_dir: str, table: str, parts: dict, tag: int, rounds: int, barrier) -> None:
    lake = Lake(data_dir)
    for _ in range(rounds):
        barrier.wait()
        lake.replace_partition(table, _version(tag), parts)
        barrier.wait()


def _assert_whole(table: pa.Table | None, tags: set[int], where: str) -> None:
    assert table is not None, f"{where}: the partition is empty"
    assert table.num_rows == ROWS, f"{where}: {table.num_rows} rows, not {ROWS} (doubled or partial)"
    assert set(table.column("tag").to_pylist()) <= tags and len(set(table.column("tag").to_pylist())) == 1


def test_two_processes_racing_replace_never_leave_a_partition_empty_or_doubled(tmp_path):
    rounds = 150
    ctx = multiprocessing.get_context("fork")
    for table, parts in (("markets_current", {}), ("whale_events", PARTS)):
        barrier = ctx.Barrier(3)
        workers = [
            ctx.Process(target=_replace_in_rounds, args=(str(tmp_path), table, parts, tag, rounds, barrier))
            for tag in (1, 2)
        ]
        for w in workers:
            w.start()
        lake = Lake(tmp_path)
        outcomes = []
        try:
            for i in range(rounds):
                barrier.wait(timeout=60)
                barrier.wait(timeout=60)  # both replaces of this round are done
                result = lake.read(table, parts)
                outcomes.append(None if result is None else result.num_rows)
                _assert_whole(result, {1, 2}, f"{table} after round {i}")
        finally:
            for w in workers:
                w.join(timeout=60)
        assert all(w.exitcode == 0 for w in workers)
        assert outcomes == [ROWS] * rounds


def test_readers_during_replaces_see_the_old_or_the_new_partition(tmp_path):
    lake = Lake(tmp_path)
    lake.replace_partition("whale_events", _version(0), PARTS)
    directory = tmp_path / "lake" / "whale_events" / "date=2026-11-25" / "hour=07"
    glob = str(tmp_path / "lake" / "whale_events" / "**" / "*.parquet")
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer(tag: int) -> None:
        writer_lake = Lake(tmp_path)
        try:
            while not stop.is_set():
                writer_lake.replace_partition("whale_events", _version(tag), PARTS)
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(tag,)) for tag in (1, 2)]
    for t in threads:
        t.start()
    con = duckdb.connect()
    try:
        for i in range(150):
            _assert_whole(lake.read("whale_events", PARTS), {0, 1, 2}, f"Lake.read {i}")
            rows = con.execute(
                f"SELECT count(*), count(DISTINCT tag) FROM read_parquet('{glob}', hive_partitioning=true, union_by_name=true)"
            ).fetchone()
            assert rows == (ROWS, 1), f"DuckDB glob read {i}: {rows}"
            _assert_whole(
                ds.dataset(str(directory), format="parquet").to_table(), {0, 1, 2}, f"pyarrow dataset {i}"
            )
    finally:
        stop.set()
        for t in threads:
            t.join()
        con.close()
    assert not errors, errors
    assert [p.name for p in lake.files("whale_events", PARTS)] == ["data.parquet"]


def test_a_partition_of_an_older_version_is_replaced_whole(tmp_path):
    # Partitions written before replace used a fixed name hold `part-<uuid>` files: the first replace removes them.
    lake = Lake(tmp_path)
    lake.write("markets_current", _version(7), {}, "part-0123456789ab")
    lake.write("markets_current", _version(8), {}, "part-ba9876543210")
    lake.replace_partition("markets_current", _version(1), {})
    _assert_whole(lake.read("markets_current"), {1}, "after the first replace")
    assert [p.name for p in lake.files("markets_current")] == ["data.parquet"]


def test_read_keeps_hive_columns_and_fills_columns_a_file_lacks(tmp_path):
    lake = Lake(tmp_path)
    lake.write("t", pa.table({"a": [1]}), {"date": "2026-11-25", "hour": "07"}, "one")
    lake.write("t", pa.table({"a": [2], "b": ["x"]}), {"date": "2026-11-25", "hour": "08"}, "two")
    table = lake.read("t")
    assert table.column("hour").type == pa.int32() and table.column("date").type == pa.string()
    assert sorted(
        zip(table.column("a").to_pylist(), table.column("b").to_pylist(), table.column("hour").to_pylist())
    ) == [(1, None, 7), (2, "x", 8)]
    assert lake.read("t", columns=["hour", "a"]).column_names == ["hour", "a"]
