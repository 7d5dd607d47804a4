"""The warehouse rebuild does not grow with the number of files: it opens two files per table (the first and
the newest), takes hive columns from file names, and falls back to `union_by_name` only when a table's schema
changed."""

from __future__ import annotations

import pyarrow as pa

from polymarket_assets.lib.parquet_store import Lake
from polymarket_assets.lib.warehouse import (
    ViewSpec,
    build_warehouse,
    build_warehouse_report,
    connect_read_only,
)

SCHEMA = pa.schema([("x", pa.int64()), ("date", pa.string()), ("hour", pa.string())])
SPEC = ViewSpec("t", "t", SCHEMA, "SELECT * FROM src")


def _hour(h: int, day: int = 25) -> dict[str, str]:
    return {"date": f"2026-11-{day:02d}", "hour": f"{h:02d}"}


def test_the_rebuild_reads_only_the_first_and_newest_file_of_a_table(tmp_path):
    lake = Lake(tmp_path)
    for day in (22, 23, 24, 25):
        for h in range(6):
            lake.write("t", pa.table({"x": [h]}), _hour(h, day), "f")
    # A file of an older day the rebuild would have to open if it read every footer (the newest days' new files
    # are probed for damage; see test_warehouse_bad_file.py).
    (tmp_path / "lake" / "t" / "date=2026-11-22" / "hour=03" / "f.parquet").write_bytes(b"not parquet")
    report = build_warehouse_report(tmp_path, [SPEC], count_rows=False)
    assert report.counts == {} and report.problems == {}, "the old file was never opened"
    con = connect_read_only(tmp_path)
    assert con.execute("DESCRIBE t").fetchall()[1][:2] == ("date", "DATE")
    assert con.execute("SELECT x, hour FROM t WHERE hour = 5 AND date = '2026-11-25'").fetchall() == [(5, 5)]


def test_a_bad_new_file_is_found_without_counting_and_stays_out_until_it_is_gone(tmp_path):
    lake = Lake(tmp_path)
    for h in range(3):
        lake.write("t", pa.table({"x": [h]}), _hour(h), "f")
    assert build_warehouse_report(tmp_path, [SPEC], count_rows=False).problems == {}
    bad = tmp_path / "lake" / "t" / "date=2026-11-25" / "hour=01" / "g.parquet"
    bad.write_bytes(b"not parquet")
    first = build_warehouse_report(tmp_path, [SPEC], count_rows=False)
    assert list(first.problems["t"].bad_files) == [str(bad)]
    con = connect_read_only(tmp_path)
    assert sorted(con.execute("SELECT x, hour FROM t").fetchall()) == [(0, 0), (1, 1), (2, 2)], (
        "typed as without damage"
    )
    con.close()
    # The next build keeps it out (remembered in warehouse.duckdb.bad_files.json) until the file is gone.
    assert list(build_warehouse_report(tmp_path, [SPEC], count_rows=False).problems["t"].bad_files) == [
        str(bad)
    ]
    bad.unlink()
    assert build_warehouse_report(tmp_path, [SPEC], count_rows=False).problems == {}


def test_hive_columns_come_from_file_names_and_match_duckdb_hive_typing(tmp_path):
    lake = Lake(tmp_path)
    for h in (7, 8):
        lake.write("t", pa.table({"x": [h]}), _hour(h), "f")
    lake.write("s", pa.table({"x": [1]}), {"tier": "T1", **_hour(9)}, "f")
    counts = build_warehouse(
        tmp_path, [SPEC, ViewSpec("s", "s", SCHEMA.append(pa.field("tier", pa.string())))]
    )
    assert counts == {"t": 2, "s": 1}
    con = connect_read_only(tmp_path)
    assert sorted(con.execute("SELECT x, date::VARCHAR, hour FROM t").fetchall()) == [
        (7, "2026-11-25", 7),
        (8, "2026-11-25", 8),
    ]
    assert con.execute("SELECT tier, hour FROM s").fetchall() == [("T1", 9)]


def test_a_table_whose_schema_changed_is_read_by_name(tmp_path):
    lake = Lake(tmp_path)
    lake.write("t", pa.table({"x": [1]}), _hour(1), "f")
    lake.write("t", pa.table({"x": [2], "y": ["new"]}), _hour(2), "f")
    build_warehouse(tmp_path, [SPEC])
    con = connect_read_only(tmp_path)
    assert sorted(con.execute("SELECT x, y FROM t").fetchall()) == [(1, None), (2, "new")]


def test_new_files_are_probed_together_so_a_first_build_does_not_grow_with_them(tmp_path, monkeypatch):
    """A first build probes every file of the newest two days. Read one query per file, a day at 50k markets'
    cadence (about 1,500 files after compaction) took 8-12 s; read together, and bisected only when the batch
    fails, a healthy day is one query and one bad file among n costs about log2(n)."""
    from polymarket_assets.lib import warehouse

    lake = Lake(tmp_path)
    for day in (24, 25):
        for h in range(24):
            for part in ("a", "b"):
                lake.write("t", pa.table({"x": [h]}), _hour(h, day), part)
    lake.write("t", pa.table({"x": [99], "y": ["added"]}), _hour(23), "c")  # a valid newer schema
    queries = []
    real = warehouse._probe
    monkeypatch.setattr(warehouse, "_probe", lambda *a: queries.append(a) or real(*a))

    assert build_warehouse_report(tmp_path, [SPEC], count_rows=False).problems == {}
    healthy = len(queries)
    # 97 new files; the one whose schema differs makes the batch fail, and bisection isolates it.
    assert healthy <= 2 * 7 + 1, f"{healthy} DuckDB queries to probe 97 healthy files"

    bad = tmp_path / "lake" / "t" / "date=2026-11-24" / "hour=11" / "z.parquet"
    bad.write_bytes(b"not parquet")
    queries.clear()
    (tmp_path / "warehouse.duckdb").unlink()  # a first build again: every file of both days is new
    problems = build_warehouse_report(tmp_path, [SPEC], count_rows=False).problems
    assert list(problems["t"].bad_files) == [str(bad)]
    assert len(queries) <= 4 * 7 + 2, f"{len(queries)} DuckDB queries to find 1 bad file among 98"
    con = connect_read_only(tmp_path)
    assert con.execute("SELECT count(*), count(y) FROM t").fetchone() == (97, 1)
