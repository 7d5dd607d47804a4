"""`warehouse.duckdb`: views only, over the Parquet lake. Rebuilt whole and swapped in atomically.

Readers open the file read-only; a rebuild writes a new file and renames it over the old one, so a reader
never meets a lock or a half-built catalogue. A table with no files yet gets an empty view of the right
columns, so notebooks and checks can always query every view.

The database file is always local (DuckDB cannot write one onto S3): `<data_dir>/warehouse.duckdb` for a
local lake, and the path given (`PM_WAREHOUSE_PATH`) for an object-store lake. The views call `read_parquet`
on a glob of each table's files, local paths or `s3://` URIs, so a view always sees the files that exist when
it is queried. Over S3 a reader needs DuckDB's httpfs extension and a secret for the endpoint:
`connect_read_only` sets both up from the environment (`lib/duckdb_s3.py`).

One bad file never costs the other views: a view whose files DuckDB cannot read is built over the table's
readable files only (an explicit list, fixed until the next rebuild) and reported, with each bad file and why,
in `WarehouseBuild.problems`; the `warehouse` asset turns that into a failing check for that view.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

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


# Polymarket's finest tick: rounding to it never moves a valid price, so it stands in for an unknown tick.
FINEST_TICK = 0.001


def to_tick(price_sql: str, tick_sql: str) -> str:
    """SQL rounding a price to its market's tick (the finest tick when unknown), without float residue (1 - 0.3 is
    0.7, not 0.7000000000000001)."""
    tick = f"coalesce(nullif({tick_sql}, 0), {FINEST_TICK})"
    return f"round(round(({price_sql}) / {tick}) * {tick}, 6)"


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


def source_relation(location: DataLocation, spec: ViewSpec, only: list[str] | None = None) -> str:
    """The table's files as a relation (all of them by glob, or ``only`` these), or an empty relation with
    the table's columns."""
    table_dir = location.path("lake", spec.table)
    if only is None and not location.parquet_files(table_dir):
        return f"({_empty_select(spec.schema)})"
    if only is not None and not only:
        return f"({_empty_select(spec.schema)})"
    if only is None:
        source = _sql_text(location.uri_of(table_dir) + "/**/*.parquet")
    else:
        source = "[" + ", ".join(_sql_text(location.uri_of(p)) for p in only) + "]"
    hive = "true" if spec.hive else "false"
    return f"read_parquet({source}, hive_partitioning={hive}, union_by_name=true)"


@dataclass
class ViewProblem:
    """Why a view is not complete: the table's files it left out (path -> reason), or the error that left it empty."""

    bad_files: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    def as_metadata(self) -> dict:
        return {"bad_files": dict(list(self.bad_files.items())[:50]), "bad_file_count": len(self.bad_files), "error": self.error}


@dataclass
class WarehouseBuild:
    counts: dict[str, int]
    problems: dict[str, ViewProblem]  # view name -> what is missing from it; empty when every view is whole


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
    data_dir: str | os.PathLike[str], specs: list[ViewSpec], path: str | os.PathLike[str] | None = None
) -> dict[str, int]:
    """Create every view in a fresh database file, then rename it over `warehouse.duckdb` (see
    `warehouse_path`). Returns row counts; `build_warehouse_report` also says which views are incomplete."""
    return build_warehouse_report(data_dir, specs, path).counts


def build_warehouse_report(
    data_dir: str | os.PathLike[str], specs: list[ViewSpec], path: str | os.PathLike[str] | None = None
) -> WarehouseBuild:
    """`build_warehouse`, returning the row counts and, per view, the bad files it had to leave out."""
    location = DataLocation(data_dir)
    target = warehouse_path(data_dir, path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".warehouse-{uuid.uuid4().hex}.duckdb")
    counts: dict[str, int] = {}
    problems: dict[str, ViewProblem] = {}
    con = duckdb.connect(str(tmp))
    try:
        if not location.is_local:
            configure_s3(con)
        for spec in specs:
            counts[spec.name], problem = _create_view(con, location, spec)
            if problem is not None:
                problems[spec.name] = problem
        con.execute("CHECKPOINT")
    finally:
        con.close()
    os.replace(tmp, target)
    wal = tmp.with_name(tmp.name + ".wal")
    if wal.exists():
        wal.unlink()
    return WarehouseBuild(counts, problems)


def _view_sql(spec: ViewSpec, relation: str) -> str:
    return f'CREATE OR REPLACE VIEW "{spec.name}" AS WITH src AS (SELECT * FROM {relation}) {spec.sql}'


def _try_view(con: duckdb.DuckDBPyConnection, spec: ViewSpec, relation: str) -> int:
    con.execute(_view_sql(spec, relation))
    return con.execute(f'SELECT count(*) FROM "{spec.name}"').fetchone()[0]


def _create_view(con: duckdb.DuckDBPyConnection, location: DataLocation, spec: ViewSpec) -> tuple[int, ViewProblem | None]:
    """The view over every file of its table; if DuckDB cannot read them all, over the readable ones only
    (each bad file found by reading it alone), or empty with the error. Never raises for bad data."""
    try:
        return _try_view(con, spec, source_relation(location, spec)), None
    except duckdb.Error as exc:
        first_error = f"{type(exc).__name__}: {exc}"
    table_files = location.parquet_files(location.path("lake", spec.table))
    bad = {}
    for file in table_files:
        reason = _unreadable(con, location, spec, file)
        if reason is not None:
            bad[file] = reason
    try:
        if not bad:  # every file reads alone: a file replaced during the first attempt, or files that disagree
            return _try_view(con, spec, source_relation(location, spec)), None
        good = [f for f in table_files if f not in bad]
        return _try_view(con, spec, source_relation(location, spec, only=good)), ViewProblem(bad)
    except duckdb.Error as exc:
        con.execute(_view_sql(spec, f"({_empty_select(spec.schema)})"))
        return 0, ViewProblem(bad, error=f"{first_error[:500]} / then {type(exc).__name__}: {str(exc)[:500]}")


def _unreadable(con: duckdb.DuckDBPyConnection, location: DataLocation, spec: ViewSpec, file: str) -> str | None:
    """Why DuckDB cannot read this one file through the view's query, or None when it can."""
    try:
        _try_view(con, spec, source_relation(location, spec, only=[file]))
    except duckdb.Error as exc:
        return f"{type(exc).__name__}: {str(exc)[:300]}"
    return None


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
