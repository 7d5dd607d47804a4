"""`warehouse.duckdb`: views only, over the Parquet lake. Rebuilt whole and swapped in atomically.

Readers open the file read-only; a rebuild writes a new file and renames it over the old one, so a reader
never meets a lock or a half-built catalogue. A table with no files yet gets an empty view of the right
columns, so notebooks and checks can always query every view.

The database file is always local (DuckDB cannot write one onto S3): `<data_dir>/warehouse.duckdb` for a
local lake, and the path given (`PM_WAREHOUSE_PATH`) for an object-store lake. The views call `read_parquet`
on a glob of each table's files, local paths or `s3://` URIs, so a view always sees the files that exist when
it is queried. Over S3 a reader needs DuckDB's httpfs extension and a secret for the endpoint:
`connect_read_only` sets both up from the environment (`lib/duckdb_s3.py`).
"""

from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from polymarket_assets.lib.duckdb_s3 import configure_s3
from polymarket_assets.lib.parquet_store import DataLocation


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


def source_relation(location: DataLocation, spec: ViewSpec) -> str:
    """The table's files as a relation, or an empty relation with the table's columns.

    Binding a view must not read every file: over a year of hourly partitions that is minutes for each
    rebuild and each query. Two DuckDB behaviours would: `hive_partitioning` expands the whole glob when the
    view is bound, and `union_by_name` reads every file's footer. So the hive columns are taken from each
    row's file name instead (lazily, when rows are read), and `union_by_name` is used only when the table's
    first and newest files disagree on their columns (its schema changed at some point); otherwise DuckDB
    binds from the first file alone.
    """
    table_dir = location.path("lake", spec.table)
    edges = edge_files(location, table_dir)
    if edges is None:
        return f"({_empty_select(spec.schema)})"
    glob = _sql_text(location.uri_of(table_dir) + "/**/*.parquet")
    first_schema, last_schema = (_read_schema(location, path) for path in edges)
    union = "false" if first_schema.equals(last_schema) else "true"
    if not spec.hive:
        return f"read_parquet({glob}, hive_partitioning=false, union_by_name={union})"
    derived = [
        f"{_hive_value_sql(key, value)} AS \"{key}\""
        for key, value in _hive_parts(edges[0], table_dir)
        if key not in first_schema.names
    ]
    columns = ", ".join(["* EXCLUDE (filename)", *derived])
    return f"(SELECT {columns} FROM read_parquet({glob}, hive_partitioning=false, filename=true, union_by_name={union}))"


def _hive_parts(path: str, table_dir: str) -> list[tuple[str, str]]:
    segments = path[len(table_dir):].strip("/").split("/")[:-1]
    return [tuple(segment.split("=", 1)) for segment in segments if "=" in segment]


def _hive_value_sql(key: str, sample: str) -> str:
    """A hive column from the file name, typed as DuckDB's hive detection types it (DATE, BIGINT, VARCHAR)."""
    raw = f"NULLIF(regexp_extract(filename, {_sql_text('/' + re.escape(key) + '=([^/]*)/')}, 1), '')"
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", sample):
        return f"CAST({raw} AS DATE)"
    if re.fullmatch(r"-?\d{1,18}", sample):
        return f"CAST({raw} AS BIGINT)"
    return raw


def _read_schema(location: DataLocation, path: str) -> pa.Schema:
    with location.fs.open_input_file(path) as handle:
        return pq.read_schema(handle)


def edge_files(location: DataLocation, directory: str) -> tuple[str, str] | None:
    """The first and the last visible Parquet file below `directory` in path order (the file DuckDB binds a
    glob from, and the newest partition's); None when there is none. On local disk only the directories on
    the way to them are listed, not the whole table."""
    if not location.is_local:
        files = location.parquet_files(directory)
        return (files[0], files[-1]) if files else None
    first = _edge_file(directory, reverse=False)
    return None if first is None else (first, _edge_file(directory, reverse=True) or first)


def _edge_file(directory: str, reverse: bool) -> str | None:
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name, reverse=reverse)
    except (FileNotFoundError, NotADirectoryError):
        return None
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir(follow_symlinks=False):
            found = _edge_file(entry.path, reverse)
            if found is not None:
                return found
        elif entry.name.endswith(".parquet"):
            return entry.path
    return None


def warehouse_path(data_dir: str | os.PathLike[str], configured: str | os.PathLike[str] | None = None) -> Path:
    """Where `warehouse.duckdb` lives: `configured` if given, else beside a local lake; an object-store
    lake needs `configured` (a local path)."""
    if configured:
        return Path(configured)
    if DataLocation(data_dir).is_local:
        return Path(data_dir) / "warehouse.duckdb"
    raise ValueError(f"the lake {data_dir} is on an object store: give warehouse.duckdb a local path (PM_WAREHOUSE_PATH)")


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def build_warehouse(
    data_dir: str | os.PathLike[str], specs: list[ViewSpec], path: str | os.PathLike[str] | None = None,
    count_rows: bool = True,
) -> dict[str, int]:
    """Create every view in a fresh database file, then rename it over `warehouse.duckdb` (see
    `warehouse_path`). Returns row counts per view, or {} with `count_rows=False`: counting reads the footer
    of every file, which is what a rebuild that must not grow with the number of files avoids."""
    location = DataLocation(data_dir)
    target = warehouse_path(data_dir, path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".warehouse-{uuid.uuid4().hex}.duckdb")
    counts: dict[str, int] = {}
    con = duckdb.connect(str(tmp))
    try:
        if not location.is_local:
            configure_s3(con)
        for spec in specs:
            relation = source_relation(location, spec)
            con.execute(f'CREATE OR REPLACE VIEW "{spec.name}" AS WITH src AS (SELECT * FROM {relation}) {spec.sql}')
            if count_rows:
                counts[spec.name] = con.execute(f'SELECT count(*) FROM "{spec.name}"').fetchone()[0]
        con.execute("CHECKPOINT")
    finally:
        con.close()
    os.replace(tmp, target)
    wal = tmp.with_name(tmp.name + ".wal")
    if wal.exists():
        wal.unlink()
    return counts


def connect_read_only(
    data_dir: str | os.PathLike[str], path: str | os.PathLike[str] | None = None
) -> duckdb.DuckDBPyConnection:
    """Open `warehouse.duckdb` read-only; over an object-store lake, with httpfs and the S3 secret loaded."""
    con = duckdb.connect(str(warehouse_path(data_dir, path)), read_only=True)
    if not DataLocation(data_dir).is_local:
        try:
            configure_s3(con)
        except BaseException:
            con.close()
            raise
    return con
