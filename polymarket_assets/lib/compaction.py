"""Compaction: the many files of a closed hourly partition merged into one.

The recorder hands over a file every ~10 s per kind, and every snapshot sweep writes its own file, so a year
at 50k markets would leave millions of small files in the lake and the raw archive; every reader that lists
or opens them (the warehouse build, DuckDB queries, the ML layer) pays for each one. Once an hour is closed
(its end is `min_age` in the past), `compact_partition` rewrites the visible files of one partition
directory as a single `compacted-<id>.parquet`, streaming the members into row groups of up to
`ROW_GROUP_ROWS` rows (memory bounded by one row group and the largest member), and records the member names in
a hidden `.compacted.json` so that ingestion does not link a member in again (`compacted_members`).

How the swap reaches readers:
- local disk: the new directory is built beside the data and exchanged with the partition directory in one
  atomic `renameat2(RENAME_EXCHANGE)`: a listing sees all the members or the one compacted file, never both.
  A reader that listed the members just before and opens one just after gets "file not found" (`Lake.read`
  lists again; a DuckDB query fails and can be re-run) rather than doubled rows;
- S3 (or a kernel without `renameat2`): the compacted object is written, then the members are deleted; a
  listing taken in between sees the rows twice. Compaction only touches hours closed for `min_age`, when
  nothing but an occasional late file writes there.

Callers hold the partition's writer lock (`lib/trades/ingest.partition_lock`) around `compact_partition`
where writers take it (the ingestion of linked incoming files), so no file is linked in during a swap.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import posixpath
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from polymarket_assets.lib.parquet_store import PARQUET_COMPRESSION, DataLocation

MEMBERS_FILE = ".compacted.json"
STAGING_DIR = ".staging"  # under the data dir, outside every table tree the readers glob
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


@dataclass(frozen=True)
class PartitionDir:
    """A leaf partition directory of a table: `<root>/<table>/[k=v/]date=YYYY-MM-DD/hour=HH`."""

    table: str  # e.g. "lake/book_updates" or "raw/ws_market"
    path: str
    hour_start: datetime

    @property
    def partition_key(self) -> str:
        return self.hour_start.strftime("%Y-%m-%d-%H:00")


@dataclass(frozen=True)
class CompactionResult:
    members: int
    rows: int
    bytes_before: int
    bytes_after: int
    atomic: bool


def closed_partitions(
    location: DataLocation, table: str, start: datetime, end: datetime
) -> Iterator[PartitionDir]:
    """Leaf `date=/hour=` directories of `table` whose hour starts in [start, end), with any hive levels above
    `date=` (e.g. `tier=T0`); only the date directories of that window are listed."""
    days = {(start + timedelta(days=i)).strftime("%Y-%m-%d") for i in range((end - start).days + 2)}

    def walk(directory: str) -> Iterator[PartitionDir]:
        for child in _subdirs(location, directory):
            name = posixpath.basename(child)
            if name.startswith("date="):
                day = name[len("date=") :]
                if day not in days:
                    continue
                for hour_dir in _subdirs(location, child):
                    hour = posixpath.basename(hour_dir)
                    if not hour.startswith("hour=") or not hour[5:].isdigit():
                        continue
                    try:
                        hour_start = datetime.fromisoformat(f"{day}T{int(hour[5:]):02d}:00:00+00:00")
                    except ValueError:
                        continue
                    if start <= hour_start < end:
                        yield PartitionDir(table, hour_dir, hour_start)
            elif "=" in name and not name.startswith("."):
                yield from walk(child)

    yield from walk(location.path(table))


def _subdirs(location: DataLocation, directory: str) -> list[str]:
    infos = location.fs.get_file_info(pafs.FileSelector(directory, recursive=False, allow_not_found=True))
    return sorted(i.path for i in infos if i.type == pafs.FileType.Directory)


def visible_files(location: DataLocation, directory: str) -> list[str]:
    return [f for f in location.parquet_files(directory) if posixpath.dirname(f) == directory]


def compacted_members(directory: str | os.PathLike[str]) -> set[str]:
    """Names of the files already merged into a local partition's compacted file."""
    try:
        with open(os.path.join(directory, MEMBERS_FILE), encoding="utf-8") as handle:
            return set(json.load(handle)["members"])
    except FileNotFoundError:
        return set()


def _unified_schema(location: DataLocation, files: list[str]) -> pa.Schema:
    schemas = []
    for path in files:
        with location.fs.open_input_file(path) as handle:
            schemas.append(pq.read_schema(handle))
    return pa.unify_schemas(schemas, promote_options="permissive")


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    columns = [
        table.column(field.name).cast(field.type)
        if field.name in table.column_names
        else pa.nulls(table.num_rows, field.type)
        for field in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)


# Members are gathered into row groups of up to this many rows (or bytes in memory) before they are written, so
# a partition of many small files does not become one file of as many tiny row groups: each costs every reader
# a footer entry (a day's 144 compacted snapshot files of 60 one-sweep row groups each took 0.6 s to count).
ROW_GROUP_ROWS = 128 * 1024
ROW_GROUP_BYTES = 64 * 2**20


def _merge_into(location: DataLocation, members: list[str], target: str) -> int:
    schema = _unified_schema(location, members)
    rows = 0
    pending: list[pa.Table] = []
    pending_rows = pending_bytes = 0
    with (
        location.fs.open_output_stream(target) as sink,
        pq.ParquetWriter(sink, schema, compression=PARQUET_COMPRESSION) as writer,
    ):
        for member in members:
            table = _conform(location.read_parquet(member), schema)
            pending.append(table)
            pending_rows += table.num_rows
            pending_bytes += table.get_total_buffer_size()
            rows += table.num_rows
            if pending_rows >= ROW_GROUP_ROWS or pending_bytes >= ROW_GROUP_BYTES:
                _write_row_group(writer, pending)
                pending, pending_rows, pending_bytes = [], 0, 0
        _write_row_group(writer, pending)
    return rows


def _write_row_group(writer: pq.ParquetWriter, tables: list[pa.Table]) -> None:
    """The gathered members as one row group (nothing when none were gathered)."""
    if tables:
        group = pa.concat_tables(tables).combine_chunks()
        writer.write_table(group, row_group_size=max(1, group.num_rows))


def _exchange(a: str, b: str) -> bool:
    """Atomically swap two directories (Linux `renameat2(RENAME_EXCHANGE)`); False when not supported."""
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), a)


def compact_partition(location: DataLocation, directory: str) -> CompactionResult | None:
    """Merge the visible files of one partition directory into one; None when there is at most one."""
    members = visible_files(location, directory)
    if len(members) <= 1:
        return None
    bytes_before = sum(info.size or 0 for info in location.fs.get_file_info(members))
    name = f"compacted-{uuid.uuid4().hex[:12]}.parquet"
    names = sorted(posixpath.basename(m) for m in members)
    if not location.is_local:
        target = posixpath.join(directory, name)
        rows = _merge_into(location, members, target)
        for member in members:
            location.delete(member)
        return CompactionResult(
            len(members), rows, bytes_before, location.fs.get_file_info(target).size or 0, atomic=False
        )

    known = compacted_members(directory) | set(names)
    staging = os.path.join(location.base, STAGING_DIR, uuid.uuid4().hex)
    os.makedirs(staging)
    try:
        target = os.path.join(staging, name)
        rows = _merge_into(location, members, target)
        with open(os.path.join(staging, MEMBERS_FILE), "w", encoding="utf-8") as handle:
            json.dump({"members": sorted(known)}, handle)
        for path in (target, os.path.join(staging, MEMBERS_FILE)):
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
        atomic = _exchange(staging, directory)
        if not atomic:
            os.replace(target, os.path.join(directory, name))
            os.replace(os.path.join(staging, MEMBERS_FILE), os.path.join(directory, MEMBERS_FILE))
            for member in members:
                location.delete(member)
        bytes_after = os.path.getsize(os.path.join(directory, name))
    finally:
        # After an exchange `staging` holds the members (and whatever else the old directory held).
        shutil.rmtree(staging, ignore_errors=True)
    return CompactionResult(len(members), rows, bytes_before, bytes_after, atomic)
