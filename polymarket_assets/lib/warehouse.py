"""`warehouse.duckdb`: views only, over the Parquet lake. Rebuilt whole and swapped in atomically.

Readers open the file read-only; a rebuild writes a new file and renames it over the old one, so a reader
never meets a lock or a half-built catalogue. A table with no files yet gets an empty view of the right
columns, so notebooks and checks can always query every view.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa


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


def build_warehouse(data_dir: str | os.PathLike[str], specs: list[ViewSpec]) -> dict[str, int]:
    """Create every view in a fresh database file, then rename it to `warehouse.duckdb`. Returns row counts."""
    data_dir = Path(data_dir)
    lake_root = data_dir / "lake"
    target = data_dir / "warehouse.duckdb"
    tmp = data_dir / f".warehouse-{uuid.uuid4().hex}.duckdb"
    counts: dict[str, int] = {}
    con = duckdb.connect(str(tmp))
    try:
        for spec in specs:
            relation = source_relation(lake_root, spec)
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


def connect_read_only(data_dir: str | os.PathLike[str]) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(Path(data_dir) / "warehouse.duckdb"), read_only=True)
