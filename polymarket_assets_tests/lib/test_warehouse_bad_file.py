"""One bad file in one lake table: every other view is still built, the table's view keeps its readable
files, and the `warehouse` asset says which file and view (metadata and a failing check)."""

from datetime import UTC, datetime

import dagster as dg
import pyarrow as pa
import pytest

from polymarket_assets.defs.resources import LakeResource
from polymarket_assets.defs.warehouse.assets import view_check_name, warehouse
from polymarket_assets.lib import tables
from polymarket_assets.lib.parquet_store import Lake
from polymarket_assets.lib.schemas import BOOK_UPDATES_SCHEMA, RESOLUTION_SCHEMA
from polymarket_assets.lib.warehouse import build_warehouse_report, connect_read_only
from polymarket_assets_tests.trades.conftest import book_update

T = datetime(2026, 11, 25, 7, tzinfo=UTC)


def book_table(n: int, start_ms: int) -> pa.Table:
    rows = [book_update(start_ms + i, i, condition_id="0xc") for i in range(n)]
    return pa.Table.from_pylist(
        [dict(zip(BOOK_UPDATES_SCHEMA.names, r)) for r in rows], schema=BOOK_UPDATES_SCHEMA
    )


def seed(data_dir, bad: str) -> str:
    lake = Lake(data_dir)
    ms = int(T.timestamp() * 1000)
    lake.write("book_updates", book_table(3, ms), {"date": "2026-11-25", "hour": "07"}, "good-a")
    lake.write("book_updates", book_table(2, ms + 10), {"date": "2026-11-25", "hour": "08"}, "good-b")
    base = {name: None for name in RESOLUTION_SCHEMA.names}
    lake.write(
        "resolutions",
        pa.Table.from_pylist(
            [{**base, "condition_id": "0xa", "outcome": "YES", "checked_at": T}], schema=RESOLUTION_SCHEMA
        ),
        {"date": "2026-11-25", "hour": "07"},
        "r",
    )
    path = data_dir / "lake" / "book_updates" / "date=2026-11-25" / "hour=08" / "bad.parquet"
    if bad == "corrupt":
        path.write_bytes(b"PAR1" + b"\x00" * 40 + b"PAR1")
    elif bad == "empty":
        path.write_bytes(b"")
    elif bad == "truncated":
        good = (
            data_dir / "lake" / "book_updates" / "date=2026-11-25" / "hour=07" / "good-a.parquet"
        ).read_bytes()
        path.write_bytes(good[: len(good) // 2])
    return str(path)


@pytest.mark.parametrize("bad", ["corrupt", "empty", "truncated"])
def test_one_bad_book_updates_file_costs_nothing_but_itself(tmp_path, bad):
    bad_path = seed(tmp_path, bad)
    build = build_warehouse_report(tmp_path, tables.views())
    assert set(build.problems) == {"book_updates"}
    assert list(build.problems["book_updates"].bad_files) == [bad_path]
    assert build.counts["book_updates"] == 5 and build.counts["resolutions"] == 1
    con = connect_read_only(tmp_path)
    try:
        assert con.execute("SELECT count(*) FROM book_updates").fetchone() == (5,)
        assert con.execute("SELECT outcome FROM resolutions").fetchall() == [("YES",)]
        views = {
            r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()
        }
        assert {v.name for v in tables.views()} <= views, "every view exists"
    finally:
        con.close()


def test_the_asset_fails_only_that_views_check_and_names_the_file(tmp_path):
    bad_path = seed(tmp_path, "corrupt")
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(
            [warehouse],
            instance=instance,
            resources={"lake": LakeResource(data_dir=str(tmp_path))},
            raise_on_error=False,
        )
        assert result.success, "the rebuild itself succeeds"
        checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
        assert set(checks) == {view_check_name(v.name) for v in tables.views()}
        failed = [name for name, e in checks.items() if not e.passed]
        assert failed == [view_check_name("book_updates")]
        assert bad_path in str(checks[view_check_name("book_updates")].metadata["problem"].value)
        mat = result.asset_materializations_for_node("warehouse")[0].metadata
        assert mat["views_incomplete"].value == ["book_updates"]
