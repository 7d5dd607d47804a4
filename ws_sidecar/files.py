"""The recorder's side of the incoming-file contract (`polymarket_assets/lib/incoming.py`): how a file is
written (a hidden temporary name, fsync, rename, directory fsync), how a crashed writer's temporaries are
removed, and how the processor's row tuples become tables of the incoming schemas.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from polymarket_assets.lib.incoming import (
    DAY_RE,
    INCOMING_BOOK_UPDATES_SCHEMA,
    INCOMING_RAW_FRAMES_SCHEMA,
    INCOMING_SCHEMAS,
    KINDS,
    TMP_PREFIX,
    incoming_root,
)

COMPRESSION = "zstd"


def write_atomic(table: pa.Table, path: Path, *, debug_delay_s: float = 0.0) -> Path:
    """Write ``table`` to a hidden temporary name beside ``path``, fsync it, rename it, fsync the directory.

    ``debug_delay_s`` holds the finished temporary file before the rename (tests use it to kill the process
    in the middle of a write).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{TMP_PREFIX}{uuid.uuid4().hex[:12]}-{path.name}")
    try:
        pq.write_table(table, tmp, compression=COMPRESSION)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        if debug_delay_s > 0:
            time.sleep(debug_delay_s)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return path


def remove_temporaries(data_dir: str | os.PathLike, min_day: str | None = None) -> int:
    """Delete leftover temporary files (a killed writer's partial files). They were never visible to readers.

    A writer only ever writes into the day directory of its current file key, so after a crash temporaries
    can only be in days >= the day of the previous run's last key: ``min_day`` keeps start-up from walking a
    year of history (None walks every day).
    """
    removed = 0
    root = incoming_root(data_dir)
    for kind in KINDS:
        kind_dir = root / kind
        if kind_dir.is_symlink() or not kind_dir.is_dir():
            continue
        for day in kind_dir.iterdir():
            if not DAY_RE.fullmatch(day.name) or (min_day is not None and day.name[4:] < min_day):
                continue
            if day.is_symlink() or not day.is_dir():
                continue
            for entry in day.iterdir():
                if entry.name.startswith(TMP_PREFIX) and not entry.is_symlink():
                    entry.unlink(missing_ok=True)
                    removed += 1
    return removed


# The compact tuples the processor appends on the hot path; run, connection and sequence columns are constant
# or positional within a batch and are added here, column-wise.
BOOK_ROW = (
    "received_at",
    "exchange_ts",
    "asset_id",
    "condition_id",
    "kind",
    "source",
    "side",
    "price",
    "size",
    "bids",
    "asks",
    "hash",
    "best_bid",
    "best_ask",
    "tick_size",
)
RAW_ROW = ("received_at", "frame")


def _with_constants(
    schema: pa.Schema,
    layout: tuple[str, ...],
    rows: list[tuple],
    run_id: str,
    connection_id: str,
    seq_start: int,
) -> pa.Table:
    n = len(rows)
    columns = list(zip(*rows)) if rows else [()] * len(layout)
    arrays = {name: pa.array(col, type=schema.field(name).type) for name, col in zip(layout, columns)}
    arrays["run_id"] = pa.repeat(pa.scalar(run_id, pa.string()), n)
    arrays["connection_id"] = pa.repeat(pa.scalar(connection_id, pa.string()), n)
    arrays["seq"] = pa.array(range(seq_start, seq_start + n), pa.int64())
    return pa.Table.from_arrays([arrays[f.name] for f in schema], schema=schema)


def book_updates_table(rows: list[tuple], run_id: str, connection_id: str, seq_start: int) -> pa.Table:
    """``BOOK_ROW`` tuples → an ``INCOMING_BOOK_UPDATES_SCHEMA`` table; ``seq`` numbers the rows from ``seq_start``."""
    return _with_constants(INCOMING_BOOK_UPDATES_SCHEMA, BOOK_ROW, rows, run_id, connection_id, seq_start)


def raw_frames_table(rows: list[tuple], run_id: str, connection_id: str, seq_start: int) -> pa.Table:
    return _with_constants(INCOMING_RAW_FRAMES_SCHEMA, RAW_ROW, rows, run_id, connection_id, seq_start)


# What Arrow raises for rows that do not fit a schema (wrong type, out of range): the rows' fault, not the disk's.
ROW_ERRORS = (pa.ArrowException, OverflowError, TypeError, ValueError)


def convert_each(
    build: Callable[[list[tuple], int], pa.Table], rows: list[tuple]
) -> tuple[list[pa.Table], list[tuple[tuple, str]]]:
    """``build(rows, first_index)`` over every row that converts, and each row that does not with the reason.

    The whole batch converts in one call as a rule; when it fails (a value of the wrong type or out of range),
    it is split in halves until the bad rows stand alone, so one bad row never costs its batch.
    """
    try:
        return [build(rows, 0)], []
    except ROW_ERRORS as exc:
        if len(rows) == 1:
            return [], [(rows[0], f"row does not fit the schema: {exc}"[:300])]
    tables: list[pa.Table] = []
    rejected: list[tuple[tuple, str]] = []
    middle = len(rows) // 2
    for start, half in ((0, rows[:middle]), (middle, rows[middle:])):
        good, bad = convert_each(lambda part, i, start=start: build(part, start + i), half)
        tables += good
        rejected += bad
    return tables, rejected


def table_from_rows(kind: str, rows: list[tuple]) -> pa.Table:
    """Column-wise conversion of row tuples (in schema order) into a table of the kind's schema."""
    schema = INCOMING_SCHEMAS[kind]
    if not rows:
        return schema.empty_table()
    columns = list(zip(*rows))
    arrays = [pa.array(col, type=field.type) for col, field in zip(columns, schema)]
    return pa.Table.from_arrays(arrays, schema=schema)
