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

import json
import os
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from polymarket_assets.lib.duckdb_s3 import configure_s3
from polymarket_assets.lib.parquet_store import DataLocation
from polymarket_assets.lib.sql import sql_list, sql_text


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
    """The table's files as a relation (all of them by glob, or ``only`` these), or an empty relation with the
    table's columns.

    Binding a view must not read every file: over a year of hourly partitions that is minutes for each
    rebuild and each query. Two DuckDB behaviours would: `hive_partitioning` expands the whole glob when the
    view is bound, and `union_by_name` reads every file's footer. So the hive columns are taken from each
    row's file name instead (lazily, when rows are read), and `union_by_name` is used only when the table's
    first and newest files disagree on their columns (its schema changed at some point); otherwise DuckDB
    binds from the first file alone.
    """
    table_dir = location.path("lake", spec.table)
    if only is None:
        edges = edge_files(location, table_dir)
        source = sql_text(location.uri_of(table_dir) + "/**/*.parquet")
    else:  # an explicit list (a view that leaves bad files out): fixed until the next rebuild
        edges = (only[0], only[-1]) if only else None
        source = sql_list(location.uri_of(p) for p in only)
    if edges is None:
        return f"({_empty_select(spec.schema)})"
    try:
        first_schema, last_schema = (_read_schema(location, path) for path in edges)
        union = "false" if first_schema.equals(last_schema) else "true"
    except (OSError, pa.ArrowException):  # an unreadable edge file: let DuckDB bind (and fail) on its own
        first_schema, union = spec.schema, "true"
    if not spec.hive:
        return f"read_parquet({source}, hive_partitioning=false, union_by_name={union})"
    derived = [
        f'{_hive_value_sql(key, value)} AS "{key}"'
        for key, value in _hive_parts(edges[0], table_dir)
        if key not in first_schema.names
    ]
    columns = ", ".join(["* EXCLUDE (filename)", *derived])
    return f"(SELECT {columns} FROM read_parquet({source}, hive_partitioning=false, filename=true, union_by_name={union}))"


def _hive_parts(path: str, table_dir: str) -> list[tuple[str, str]]:
    segments = path[len(table_dir) :].strip("/").split("/")[:-1]
    return [tuple(segment.split("=", 1)) for segment in segments if "=" in segment]


def _hive_value_sql(key: str, sample: str) -> str:
    """A hive column from the file name, typed as DuckDB's hive detection types it (DATE, BIGINT, VARCHAR)."""
    raw = f"NULLIF(regexp_extract(filename, {sql_text('/' + re.escape(key) + '=([^/]*)/')}, 1), '')"
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


@dataclass
class ViewProblem:
    """Why a view is not complete: the table's files it left out (path -> reason), or the error that left it empty."""

    bad_files: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    def as_metadata(self) -> dict:
        return {
            "bad_files": dict(list(self.bad_files.items())[:50]),
            "bad_file_count": len(self.bad_files),
            "error": self.error,
        }


@dataclass
class WarehouseBuild:
    counts: dict[str, int]  # rows per view; empty when the build did not count them
    problems: dict[str, ViewProblem]  # view name -> what is missing from it; empty when every view is whole


def warehouse_path(
    data_dir: str | os.PathLike[str], configured: str | os.PathLike[str] | None = None
) -> Path:
    """Where `warehouse.duckdb` lives: `configured` if given, else beside a local lake; an object-store
    lake needs `configured` (a local path)."""
    if configured:
        return Path(configured)
    if DataLocation(data_dir).is_local:
        return Path(data_dir) / "warehouse.duckdb"
    raise ValueError(
        f"the lake {data_dir} is on an object store: give warehouse.duckdb a local path (PM_WAREHOUSE_PATH)"
    )


def build_warehouse(
    data_dir: str | os.PathLike[str],
    specs: list[ViewSpec],
    path: str | os.PathLike[str] | None = None,
    count_rows: bool = True,
) -> dict[str, int]:
    """Create every view in a fresh database file, then rename it over `warehouse.duckdb` (see
    `warehouse_path`). Returns row counts per view, or {} with `count_rows=False`: counting reads the footer
    of every file, which is what a rebuild that must not grow with the number of files avoids.
    `build_warehouse_report` also says which views are incomplete."""
    return build_warehouse_report(data_dir, specs, path, count_rows=count_rows).counts


def build_warehouse_report(
    data_dir: str | os.PathLike[str],
    specs: list[ViewSpec],
    path: str | os.PathLike[str] | None = None,
    count_rows: bool = True,
) -> WarehouseBuild:
    """`build_warehouse`, returning the row counts and, per view, the bad files it had to leave out.

    With `count_rows` every file is read, so every bad file is found. Without, the build stays bounded: it
    reads only the files of today's and yesterday's partitions written since the previous build (new files are
    where bad ones appear; closed hours are rewritten only by compaction, from files it has read), and keeps
    the bad files it found before in `<warehouse>.bad_files.json` until they are gone."""
    location = DataLocation(data_dir)
    target = warehouse_path(data_dir, path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".warehouse-{uuid.uuid4().hex}.duckdb")
    counts: dict[str, int] = {}
    problems: dict[str, ViewProblem] = {}
    bad_files_path = target.with_name(target.name + ".bad_files.json")
    known_bad = _read_known_bad(bad_files_path)
    since = target.stat().st_mtime - PROBE_MARGIN_S if target.exists() else None
    con = duckdb.connect(str(tmp))
    try:
        if not location.is_local:
            configure_s3(con)
        for spec in specs:
            if count_rows:
                count, problem = _create_view(con, location, spec)
                counts[spec.name] = count
            else:
                problem = _create_view_uncounted(con, location, spec, known_bad, since)
            if problem is not None:
                problems[spec.name] = problem
        con.execute("CHECKPOINT")
    finally:
        con.close()
    os.replace(tmp, target)
    wal = tmp.with_name(tmp.name + ".wal")
    if wal.exists():
        wal.unlink()
    _write_known_bad(bad_files_path, problems)
    return WarehouseBuild(counts, problems)


# A file written shortly before the previous build started may not have been probed by it.
PROBE_MARGIN_S = 120.0
# Partitions of the newest dates of a table are where new files land (the recorder's and the slot runs').
PROBED_DATES = 2


def _read_known_bad(path: Path) -> dict[str, dict[str, str]]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}


def _write_known_bad(path: Path, problems: dict[str, ViewProblem]) -> None:
    known = {view: p.bad_files for view, p in problems.items() if p.bad_files}
    if not known:
        path.unlink(missing_ok=True)
        return
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    tmp.write_text(json.dumps(known), encoding="utf-8")
    os.replace(tmp, path)


def _create_view_uncounted(
    con: duckdb.DuckDBPyConnection,
    location: DataLocation,
    spec: ViewSpec,
    known_bad: dict[str, dict[str, str]],
    since: float | None,
) -> ViewProblem | None:
    """The view bound lazily over the whole table (no row count), unless a bad file is known or found among the
    recently written ones; then over the readable files only. Never raises for bad data."""
    bad = {f: reason for f, reason in known_bad.get(spec.name, {}).items() if _exists(location, f)}
    if location.is_local:
        recent = [f for f in _recent_files(location.path("lake", spec.table), since) if f not in bad]
        bad.update(_unreadable_among(con, location, spec, recent))
    try:
        if not bad:
            con.execute(_view_sql(spec, source_relation(location, spec)))
            return None
        table_files = location.parquet_files(location.path("lake", spec.table))
        con.execute(
            _view_sql(spec, source_relation(location, spec, only=[f for f in table_files if f not in bad]))
        )
        return ViewProblem(bad)
    except (duckdb.Error, OSError, pa.ArrowException) as exc:
        con.execute(_view_sql(spec, f"({_empty_select(spec.schema)})"))
        return ViewProblem(bad, error=f"{type(exc).__name__}: {str(exc)[:500]}")


def _exists(location: DataLocation, path: str) -> bool:
    return location.fs.get_file_info(path).type != pafs.FileType.NotFound


def _recent_files(directory: str, since: float | None) -> list[str]:
    """Parquet files below `directory` modified since `since` (all when None), looking only inside the newest
    `PROBED_DATES` `date=` partitions at each level, so the scan does not grow with the table's history."""
    try:
        entries = [e for e in os.scandir(directory) if not e.name.startswith(".")]
    except (FileNotFoundError, NotADirectoryError):
        return []
    dates = sorted(e.name for e in entries if e.name.startswith("date=") and e.is_dir(follow_symlinks=False))
    kept = set(dates[-PROBED_DATES:])
    found = []
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            if entry.name.startswith("date=") and entry.name not in kept:
                continue
            found += _recent_files(entry.path, since)
        elif entry.name.endswith(".parquet") and (since is None or entry.stat().st_mtime >= since):
            found.append(entry.path)
    return found


def _view_sql(spec: ViewSpec, relation: str) -> str:
    return f'CREATE OR REPLACE VIEW "{spec.name}" AS WITH src AS (SELECT * FROM {relation}) {spec.sql}'


def _try_view(con: duckdb.DuckDBPyConnection, spec: ViewSpec, relation: str) -> int:
    con.execute(_view_sql(spec, relation))
    return con.execute(f'SELECT count(*) FROM "{spec.name}"').fetchone()[0]


def _create_view(
    con: duckdb.DuckDBPyConnection, location: DataLocation, spec: ViewSpec
) -> tuple[int, ViewProblem | None]:
    """The view over every file of its table; if DuckDB cannot read them all, over the readable ones only
    (each bad file found by reading it alone), or empty with the error. Never raises for bad data."""
    try:
        return _try_view(con, spec, source_relation(location, spec)), None
    except duckdb.Error as exc:
        first_error = f"{type(exc).__name__}: {exc}"
    table_files = location.parquet_files(location.path("lake", spec.table))
    bad = _unreadable_among(con, location, spec, table_files)
    try:
        if (
            not bad
        ):  # every file reads alone: a file replaced during the first attempt, or files that disagree
            return _try_view(con, spec, source_relation(location, spec)), None
        good = [f for f in table_files if f not in bad]
        return _try_view(con, spec, source_relation(location, spec, only=good)), ViewProblem(bad)
    except duckdb.Error as exc:
        con.execute(_view_sql(spec, f"({_empty_select(spec.schema)})"))
        return 0, ViewProblem(bad, error=f"{first_error[:500]} / then {type(exc).__name__}: {str(exc)[:500]}")


def _probe(con: duckdb.DuckDBPyConnection, spec: ViewSpec, relation: str) -> None:
    """Raise unless DuckDB binds the view's query over `relation` and reads the footer of each of its files.
    Counting the relation, not the view, reads no data pages: a view's query may join, window or deduplicate,
    which over a day of files at full cadence cost seconds per probe."""
    con.execute(_view_sql(spec, relation))
    con.execute(f"SELECT count(*) FROM {relation}").fetchone()


def _unreadable(
    con: duckdb.DuckDBPyConnection, location: DataLocation, spec: ViewSpec, file: str
) -> str | None:
    """Why DuckDB cannot read this one file through the view's query, or None when it can."""
    try:
        _probe(con, spec, source_relation(location, spec, only=[file]))
    except duckdb.Error as exc:
        return f"{type(exc).__name__}: {str(exc)[:300]}"
    return None


def _unreadable_among(
    con: duckdb.DuckDBPyConnection, location: DataLocation, spec: ViewSpec, files: list[str]
) -> dict[str, str]:
    """The files DuckDB cannot read through the view's query (path -> why), found by bisection: all of them
    are read together first, so a healthy batch costs one query however many files it holds, and k bad files
    among n cost about k·log2(n) queries. A group that fails only together (files whose schemas differ) is
    split until each file is read alone."""
    if len(files) <= 1:
        reason = _unreadable(con, location, spec, files[0]) if files else None
        return {} if reason is None else {files[0]: reason}
    try:
        _probe(con, spec, source_relation(location, spec, only=files))
        return {}
    except duckdb.Error:
        middle = len(files) // 2
        return _unreadable_among(con, location, spec, files[:middle]) | _unreadable_among(
            con, location, spec, files[middle:]
        )


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
