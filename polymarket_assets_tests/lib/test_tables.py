"""The table registry (`lib/tables.py`) is the one place a lake table is declared: a column added there
alone reaches the warehouse view, the ML sources' types and the synthetic lake; the producers it names are
the assets the `warehouse` depends on."""

import dataclasses
from datetime import UTC, datetime, timedelta

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

from polymarket_assets.lib import tables
from polymarket_assets.lib.ml.features import SNAPSHOTS, build_features
from polymarket_assets.lib.ml.sources import Source, connect, relation_sql
from polymarket_assets.lib.ml.synthetic import generate_lake
from polymarket_assets.lib.warehouse import build_warehouse, connect_read_only

EXTRA = pa.field("microprice", pa.float64())
START = datetime(2026, 3, 2, tzinfo=UTC)


def _register_extra_snapshot_column(monkeypatch) -> None:
    """The registry as it is after one edit: `microprice` appended to the snapshot schema."""
    snapshots = dataclasses.replace(tables.SNAPSHOTS, schema=tables.SNAPSHOTS.schema.append(EXTRA))
    monkeypatch.setattr(tables, "SNAPSHOTS", snapshots)
    registered = tuple(snapshots if t.name == snapshots.name else t for t in tables.TABLES)
    monkeypatch.setattr(tables, "TABLES", registered)


def test_one_new_snapshot_column_reaches_the_view_the_ml_sources_and_synthetic_lake(monkeypatch, tmp_path):
    _register_extra_snapshot_column(monkeypatch)

    (view,) = [v for v in tables.views() if v.name == "snapshots"]
    assert view.schema.field(EXTRA.name).type == EXTRA.type

    source = Source(SNAPSHOTS.table, (*SNAPSHOTS.names, EXTRA.name))
    assert source.columns[-1] == (EXTRA.name, "DOUBLE")
    assert source.columns[:-1] == SNAPSHOTS.columns

    generate_lake(tmp_path, markets=3, start=START, days=1.5, threads=1, memory_limit="500MB")
    files = sorted((tmp_path / "lake" / tables.SNAPSHOTS.name).rglob("*.parquet"))
    assert files and all(pq.read_schema(f).field(EXTRA.name).type == EXTRA.type for f in files)

    con = connect(threads=1)
    try:
        relation = relation_sql(tmp_path / "lake", source)
        rows, filled = con.execute(f"SELECT count(*), count({EXTRA.name}) FROM {relation}").fetchone()
    finally:
        con.close()
    assert rows > 0 and filled == 0, "the generator leaves the new column NULL"

    build_warehouse(tmp_path, tables.views())
    con = connect_read_only(tmp_path)
    try:
        columns = dict(
            con.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'snapshots'"
            ).fetchall()
        )
    finally:
        con.close()
    assert columns[EXTRA.name] == "DOUBLE" and "date" not in columns and "hour" not in columns


def test_the_features_build_writes_the_registered_features_columns(tmp_path):
    generate_lake(tmp_path, markets=3, start=START, days=1.5, threads=1, memory_limit="500MB")
    con = connect(threads=1)
    try:
        day = START + timedelta(days=1)
        built = build_features(con, tmp_path / "lake", day, day + timedelta(hours=6))
    finally:
        con.close()
    assert built.num_rows > 0
    assert built.schema.names == tables.FEATURES.schema.names


def test_every_producer_is_an_asset_and_the_warehouse_depends_on_each():
    from polymarket_assets.definitions import defs as load_defs

    graph = load_defs().resolve_asset_graph()
    producers = {dg.AssetKey(name) for name in tables.producers()}
    assert producers <= graph.get_all_asset_keys()
    assert graph.get(dg.AssetKey("warehouse")).parent_keys == producers


def test_a_partitioned_table_names_its_partition_from_a_time():
    at = datetime(2026, 3, 2, 7, 45, tzinfo=UTC)
    assert tables.PREDICTIONS.parts(at) == {"date": "2026-03-02", "hour": "07"}
    assert tables.FEATURES.parts(at.date()) == {"date": "2026-03-02"}
    assert tables.SNAPSHOTS.parts(at, tier="T2") == {"tier": "T2", "date": "2026-03-02", "hour": "07"}
    assert tables.MARKETS_CURRENT.parts(at) == {}
