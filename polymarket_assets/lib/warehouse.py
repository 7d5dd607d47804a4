"""`warehouse.duckdb`: views only, over the Parquet lake. Rebuilt whole and swapped in atomically.

Readers open the file read-only; a rebuild writes a new file and renames it over the old one, so a reader
never meets a lock or a half-built catalogue. A table with no files yet gets an empty view of the right
columns, so notebooks and checks can always query every view.

The database file is always local (DuckDB cannot write one onto S3): `<data_dir>/warehouse.duckdb` for a
local lake, and the path given (`PM_WAREHOUSE_PATH`) for an object-store lake. Over a local lake the views
call `read_parquet` on the files, so any DuckDB (the CLI included) can open the file. Over an object store
they would need DuckDB's httpfs extension, which the installed DuckDB cannot load offline (it is not bundled
and no package registry carries a build for this release), so instead the views read relations named
`lake__<table>`, which `connect_read_only` (and the builder) register as pyarrow datasets on the S3
filesystem. The view `_lake_sources` records what to register, so a reader needs only the file's path.
"""

from __future__ import annotations

import base64
import os
import posixpath
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds

from polymarket_assets.lib.parquet_store import DataLocation

SOURCES_VIEW = "_lake_sources"


@dataclass(frozen=True)
class ViewSpec:
    name: str
    table: str
    schema: pa.Schema
    # SQL over the relation `src` (the table's files); `SELECT * FROM src` when empty.
    sql: str = "SELECT * FROM src"
    hive: bool = True


def duckdb_type(t: pa.DataType) -> str:
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "VARCHAR"
    if pa.types.is_float64(t) or pa.types.is_float32(t):
        return "DOUBLE"
    if pa.types.is_integer(t):
        return "BIGINT"
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    if pa.types.is_timestamp(t):
        return "TIMESTAMPTZ" if t.tz else "TIMESTAMP"
    if pa.types.is_date(t):
        return "DATE"
    if pa.types.is_list(t):
        return f"{duckdb_type(t.value_type)}[]"
    if pa.types.is_struct(t):
        inner = ", ".join(f'"{f.name}" {duckdb_type(f.type)}' for f in t)
        return f"STRUCT({inner})"
    raise TypeError(f"no DuckDB type for {t}")


def _empty_select(schema: pa.Schema) -> str:
    columns = ", ".join(f'CAST(NULL AS {duckdb_type(f.type)}) AS "{f.name}"' for f in schema)
    return f"SELECT {columns} WHERE false"


def source_relation(lake_root: Path, spec: ViewSpec) -> str:
    """The table's files as a relation, or an empty relation with the table's columns."""
    directory = lake_root / spec.table
    if not directory.exists() or not any(directory.rglob("*.parquet")):
        return f"({_empty_select(spec.schema)})"
    glob = str(directory / "**" / "*.parquet").replace("'", "''")
    hive = "true" if spec.hive else "false"
    return f"read_parquet('{glob}', hive_partitioning={hive}, union_by_name=true)"


def warehouse_path(data_dir: str | os.PathLike[str], configured: str | os.PathLike[str] | None = None) -> Path:
    """Where `warehouse.duckdb` lives: `configured` if given, else beside a local lake; an object-store
    lake needs `configured` (a local path)."""
    if configured:
        return Path(configured)
    if DataLocation(data_dir).is_local:
        return Path(data_dir) / "warehouse.duckdb"
    raise ValueError(f"the lake {data_dir} is on an object store: give warehouse.duckdb a local path (PM_WAREHOUSE_PATH)")


def relation_name(table: str) -> str:
    return f"lake__{table}"


def _hive_partitioning(location: DataLocation, table_dir: str, first_file: str, schema: pa.Schema):
    keys = [segment.split("=", 1)[0] for segment in posixpath.relpath(posixpath.dirname(first_file), table_dir).split("/") if "=" in segment]
    if not keys:
        return None
    fields = [schema.field(k) if k in schema.names else pa.field(k, pa.string()) for k in keys]
    return ds.HivePartitioning(pa.schema(fields))


def lake_dataset(location: DataLocation, table: str, schema: pa.Schema, hive: bool) -> ds.Dataset | pa.Table:
    """One lake table as a pyarrow dataset over `location`'s filesystem, read with the view's schema
    (columns a file lacks read as null, as `union_by_name` would); an empty table when it has no files."""
    table_dir = location.path("lake", table)
    files = location.parquet_files(table_dir)
    if not files:
        return schema.empty_table()
    partitioning = _hive_partitioning(location, table_dir, files[0], schema) if hive else None
    return ds.dataset(files, schema=schema, filesystem=location.fs, format="parquet", partitioning=partitioning,
                      partition_base_dir=table_dir)


def _encode_schema(schema: pa.Schema) -> str:
    return base64.b64encode(schema.serialize().to_pybytes()).decode()


def _decode_schema(text: str) -> pa.Schema:
    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(text)))


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def build_warehouse(
    data_dir: str | os.PathLike[str], specs: list[ViewSpec], path: str | os.PathLike[str] | None = None
) -> dict[str, int]:
    """Create every view in a fresh database file, then rename it over `warehouse.duckdb` (see
    `warehouse_path`). Returns row counts."""
    location = DataLocation(data_dir)
    target = warehouse_path(data_dir, path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".warehouse-{uuid.uuid4().hex}.duckdb")
    counts: dict[str, int] = {}
    con = duckdb.connect(str(tmp))
    try:
        if not location.is_local:
            sources = [(relation_name(spec.table), spec.table, spec.hive, _encode_schema(spec.schema)) for spec in specs]
            rows = ", ".join(
                f"({_sql_text(location.uri)}, {_sql_text(rel)}, {_sql_text(table)}, {str(hive).lower()}, {_sql_text(schema)})"
                for rel, table, hive, schema in dict.fromkeys(sources)
            )
            con.execute(
                f'CREATE VIEW "{SOURCES_VIEW}" AS SELECT * FROM (VALUES {rows}) AS t(data_dir, relation, "table", hive, schema)'
            )
            _register_sources(con)
        for spec in specs:
            if location.is_local:
                relation = source_relation(Path(location.path("lake")), spec)
            else:
                relation = f'"{relation_name(spec.table)}"'
            con.execute(f'CREATE OR REPLACE VIEW "{spec.name}" AS WITH src AS (SELECT * FROM {relation}) {spec.sql}')
            counts[spec.name] = con.execute(f'SELECT count(*) FROM "{spec.name}"').fetchone()[0]
        con.execute("CHECKPOINT")
    finally:
        con.close()
    os.replace(tmp, target)
    wal = tmp.with_name(tmp.name + ".wal")
    if wal.exists():
        wal.unlink()
    return counts


def _register_sources(con: duckdb.DuckDBPyConnection) -> None:
    """Register the pyarrow datasets an object-store warehouse's views read (nothing for a local lake)."""
    if not con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = ?", [SOURCES_VIEW]).fetchone()[0]:
        return
    for data_dir, relation, table, hive, schema in con.execute(f'SELECT * FROM "{SOURCES_VIEW}"').fetchall():
        con.register(relation, lake_dataset(DataLocation(data_dir), table, _decode_schema(schema), hive))


def connect_read_only(
    data_dir: str | os.PathLike[str], path: str | os.PathLike[str] | None = None
) -> duckdb.DuckDBPyConnection:
    """Open `warehouse.duckdb` read-only; over an object-store lake, also register the datasets its views read
    (each connection lists the lake's files once, when it opens)."""
    con = duckdb.connect(str(warehouse_path(data_dir, path)), read_only=True)
    _register_sources(con)
    return con
