"""The incoming-file contract between ws_sidecar (writer) and the Dagster sensor and assets (readers).

Layout: ``<data_dir>/incoming/<kind>/day=YYYY-MM-DD/<kind>-<YYYYMMDDTHH>-<ms>-<seq>-<run>.parquet``

- ``kind``: ``trades``, ``book_updates``, ``raw_frames``, ``ws_gaps`` or ``market_events``.
- ``YYYYMMDDTHH``: the UTC hour every row of the file belongs to (exchange time for trades, book updates and
  market events, receive time for raw frames, gap start for gaps). One file never spans two hours, so a file maps to exactly
  one hourly partition.
- ``<ms>-<seq>-<run>``: the file *key*. ``ms`` is the wall-clock millisecond at which the writer named the
  file, made monotonic by the writer (and carried across restarts in its state file); ``seq`` is a per-process
  counter; ``run`` is the recorder run id. Keys sort in the order files were renamed into place, which lets
  the sensor keep a small cursor (a floor key plus the keys above it) instead of a set of every file ever seen.
- ``day=``: the wall-clock day of ``ms``, so a sensor lists only the newest one or two day directories.

A file is written under a hidden temporary name in the same directory, fsynced, renamed, and the directory
fsynced; after the rename it is never modified. Readers must ignore every name that does not match
``NAME_RE`` (temporary files start with a dot).
"""

from __future__ import annotations

import os
import re
import stat
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from polymarket_assets.lib.fees import FEE_FIELDS

KINDS = ("trades", "book_updates", "raw_frames", "ws_gaps", "market_events")
COMPRESSION = "zstd"

NAME_RE = re.compile(
    r"^(?P<kind>trades|book_updates|raw_frames|ws_gaps|market_events)-(?P<hour>\d{8}T\d{2})-"
    r"(?P<key>(?P<ms>\d{13})-(?P<seq>\d{8})-(?P<run>[0-9a-f]{8}))\.parquet$"
)
DAY_RE = re.compile(r"^day=(\d{4}-\d{2}-\d{2})$")
TMP_PREFIX = ".tmp-"

TS_MS = pa.timestamp("ms", tz="UTC")
TS_US = pa.timestamp("us", tz="UTC")
LEVEL = pa.struct([("price", pa.float64()), ("size", pa.float64())])

# Row tuples are built in exactly these column orders on the hot path (no dicts per row).
TRADES_SCHEMA = pa.schema(
    [
        ("trade_uid", pa.string()),
        ("source", pa.string()),  # "ws" (last_trade_price) or "data_api" (backfill)
        ("asset_id", pa.string()),
        ("condition_id", pa.string()),
        ("side", pa.string()),
        ("price", pa.float64()),
        ("size", pa.float64()),
        ("fee_rate_bps", pa.float64()),
        ("exchange_ts", TS_MS),  # WS: epoch ms as sent; Data API: epoch s * 1000
        ("received_at", TS_US),
        ("outcome", pa.string()),
        ("outcome_index", pa.int64()),
        ("transaction_hash", pa.string()),
        ("connection_id", pa.string()),
        ("run_id", pa.string()),
    ]
)

BOOK_UPDATES_SCHEMA = pa.schema(
    [
        ("received_at", TS_US),
        ("exchange_ts", TS_MS),
        ("run_id", pa.string()),
        ("connection_id", pa.string()),
        ("seq", pa.int64()),  # per-process row counter: the order rows were applied in
        ("asset_id", pa.string()),
        ("condition_id", pa.string()),
        ("kind", pa.string()),  # "snapshot", "change" or "tick_size"
        ("source", pa.string()),  # "ws" or "rest" (POST /books reseed or resync)
        ("side", pa.string()),  # change rows: BUY = bid level, SELL = ask level
        ("price", pa.float64()),
        ("size", pa.float64()),  # change rows: the new total at price; 0 removes the level
        ("bids", pa.list_(LEVEL)),  # snapshot rows
        ("asks", pa.list_(LEVEL)),
        ("hash", pa.string()),
        ("best_bid", pa.float64()),  # the local book after applying this row
        ("best_ask", pa.float64()),
        ("tick_size", pa.float64()),
    ]
)

RAW_FRAMES_SCHEMA = pa.schema(
    [
        ("received_at", TS_US),
        ("run_id", pa.string()),
        ("connection_id", pa.string()),
        ("seq", pa.int64()),
        ("frame", pa.string()),
    ]
)

WS_GAPS_SCHEMA = pa.schema(
    [
        ("gap_id", pa.string()),
        ("run_id", pa.string()),
        ("connection_id", pa.string()),
        ("start_ts", TS_MS),
        ("end_ts", TS_MS),
        ("reason", pa.string()),  # "disconnect", "freeze", "resync", "restart" or "planned_restart" (the exchange's)
        ("detail", pa.string()),
        ("n_assets", pa.int64()),
        ("condition_id", pa.string()),  # set when a resync concerns one market
        ("detected_at", TS_US),
    ]
)

# The custom events (`custom_feature_enabled`): a `new_market` is the market's first sighting, a `market_resolved`
# the provisional resolution (`outcome` is its claim as a label, confirmed or contradicted by `resolutions`).
MARKET_EVENTS_SCHEMA = pa.schema(
    [
        ("event_key", pa.string()),  # <event_type>:<condition_id>:<exchange ms>; one row per event whatever the sockets
        ("event_type", pa.string()),  # "new_market" or "market_resolved"
        ("source", pa.string()),  # "ws_new_market" or "ws_market_resolved"
        ("condition_id", pa.string()),
        ("market_id", pa.string()),
        ("question", pa.string()),
        ("slug", pa.string()),
        ("asset_ids", pa.list_(pa.string())),
        ("outcomes", pa.list_(pa.string())),
        ("winning_asset_id", pa.string()),
        ("winning_outcome", pa.string()),
        ("outcome", pa.string()),  # market_resolved: YES / NO / UNKNOWN (by outcome name, lib/labels.py)
        ("detail", pa.string()),
        *FEE_FIELDS,
        ("exchange_ts", TS_MS),
        ("received_at", TS_US),
        ("connection_id", pa.string()),
        ("run_id", pa.string()),
    ]
)

SCHEMAS = {
    "trades": TRADES_SCHEMA,
    "book_updates": BOOK_UPDATES_SCHEMA,
    "raw_frames": RAW_FRAMES_SCHEMA,
    "ws_gaps": WS_GAPS_SCHEMA,
    "market_events": MARKET_EVENTS_SCHEMA,
}
# The column whose value decides a row's hour (and so its file and partition).
HOUR_COLUMN = {"trades": "exchange_ts", "book_updates": "exchange_ts", "raw_frames": "received_at", "ws_gaps": "start_ts",
               "market_events": "exchange_ts"}
HOUR_UNIT = {"trades": 1000, "book_updates": 1000, "raw_frames": 1_000_000, "ws_gaps": 1000, "market_events": 1000}


@dataclass(frozen=True)
class IncomingFile:
    kind: str
    hour: str  # YYYYMMDDTHH
    key: str  # <ms>-<seq>-<run>
    path: Path
    size: int

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def hour_start(self) -> datetime:
        return datetime.strptime(self.hour, "%Y%m%dT%H").replace(tzinfo=UTC)

    @property
    def partition_key(self) -> str:
        """The hourly partition key (``YYYY-MM-DD-HH:00``) of the rows in this file."""
        return self.hour_start.strftime("%Y-%m-%d-%H:00")

    @property
    def relpath(self) -> str:
        """``<kind>/day=.../<name>``: the identity the sensor passes to runs (always under incoming/)."""
        return f"{self.kind}/{self.path.parent.name}/{self.path.name}"


def incoming_root(data_dir: str | os.PathLike) -> Path:
    return Path(data_dir) / "incoming"


def hour_of_epoch_s(ts: float) -> str:
    return datetime.fromtimestamp(int(ts // 3600) * 3600, tz=UTC).strftime("%Y%m%dT%H")


def day_of_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d")


def file_name(kind: str, hour: str, ms: int, seq: int, run_id: str) -> str:
    name = f"{kind}-{hour}-{ms:013d}-{seq:08d}-{run_id}.parquet"
    if not NAME_RE.fullmatch(name):
        raise ValueError(f"not a valid incoming file name: {name!r}")
    return name


def key_ms(key: str) -> int:
    return int(key[:13])


def valid_hour(hour: str) -> bool:
    """Whether a name's ``YYYYMMDDTHH`` tag is a real UTC hour (the pattern alone admits ``20261399T99``)."""
    try:
        datetime.strptime(hour, "%Y%m%dT%H")
    except ValueError:
        return False
    return True


def resolve_relpath(data_dir: str | os.PathLike, relpath: str) -> IncomingFile | None:
    """An ``IncomingFile`` for a ``<kind>/day=.../<name>`` identity, or None if it is not one of ours.

    Checks the name pattern and that the path stays inside ``incoming/`` (no ``..``, no symlinks), so config
    passed to a run can never make it read anything else.
    """
    parts = relpath.split("/")
    if len(parts) != 3:
        return None
    kind, day, name = parts
    match = NAME_RE.fullmatch(name)
    if kind not in KINDS or not DAY_RE.fullmatch(day) or match is None or match["kind"] != kind:
        return None
    root = incoming_root(data_dir)
    path = root / kind / day / name
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    for directory in (root / kind, root / kind / day):
        if os.path.islink(directory):
            return None
    return IncomingFile(kind, match["hour"], match["key"], path, st.st_size)


def list_incoming(
    data_dir: str | os.PathLike,
    kinds: Iterable[str] = KINDS,
    min_day: str | None = None,
    odd: list[tuple[Path, str]] | None = None,
) -> Iterator[IncomingFile]:
    """Every closed file of the given kinds (in day directories >= ``min_day``), by listing and stat only.

    Symlinks, temporary files and foreign names are skipped, never followed. When ``odd`` is given, every
    skipped entry that pretends to be ours (a symlink or non-file with one of our names, a symlinked day
    directory) is appended to it as ``(path, reason)``, so a caller can report it instead of staying silent.
    """
    root = incoming_root(data_dir)
    for kind in kinds:
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}")
        kind_dir = root / kind
        if kind_dir.is_symlink() or not kind_dir.is_dir():
            continue
        with os.scandir(kind_dir) as days:
            day_entries = []
            for d in days:
                if not DAY_RE.fullmatch(d.name) or (min_day is not None and d.name[4:] < min_day):
                    continue
                if d.is_dir(follow_symlinks=False):
                    day_entries.append(d)
                elif odd is not None and d.is_symlink():
                    odd.append((Path(d.path), "symlinked day directory (never followed)"))
            day_entries.sort(key=lambda d: d.name)
        for day in day_entries:
            with os.scandir(day.path) as entries:
                for entry in entries:
                    match = NAME_RE.fullmatch(entry.name)
                    if match is None or match["kind"] != kind:
                        continue
                    if not entry.is_file(follow_symlinks=False):
                        if odd is not None:
                            what = "symlink" if entry.is_symlink() else "not a regular file"
                            odd.append((Path(entry.path), f"{what} with an incoming file name (never followed)"))
                        continue
                    yield IncomingFile(kind, match["hour"], match["key"], Path(entry.path), entry.stat().st_size)


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
BOOK_ROW = ("received_at", "exchange_ts", "asset_id", "condition_id", "kind", "source", "side", "price", "size",
            "bids", "asks", "hash", "best_bid", "best_ask", "tick_size")
RAW_ROW = ("received_at", "frame")


def _with_constants(schema: pa.Schema, layout: tuple[str, ...], rows: list[tuple], run_id: str,
                    connection_id: str, seq_start: int) -> pa.Table:
    n = len(rows)
    columns = list(zip(*rows)) if rows else [()] * len(layout)
    arrays = {name: pa.array(col, type=schema.field(name).type) for name, col in zip(layout, columns)}
    arrays["run_id"] = pa.repeat(pa.scalar(run_id, pa.string()), n)
    arrays["connection_id"] = pa.repeat(pa.scalar(connection_id, pa.string()), n)
    arrays["seq"] = pa.array(range(seq_start, seq_start + n), pa.int64())
    return pa.Table.from_arrays([arrays[f.name] for f in schema], schema=schema)


def book_updates_table(rows: list[tuple], run_id: str, connection_id: str, seq_start: int) -> pa.Table:
    """``BOOK_ROW`` tuples → a ``BOOK_UPDATES_SCHEMA`` table; ``seq`` numbers the rows from ``seq_start``."""
    return _with_constants(BOOK_UPDATES_SCHEMA, BOOK_ROW, rows, run_id, connection_id, seq_start)


def raw_frames_table(rows: list[tuple], run_id: str, connection_id: str, seq_start: int) -> pa.Table:
    return _with_constants(RAW_FRAMES_SCHEMA, RAW_ROW, rows, run_id, connection_id, seq_start)


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
    schema = SCHEMAS[kind]
    if not rows:
        return schema.empty_table()
    columns = list(zip(*rows))
    arrays = [pa.array(col, type=field.type) for col, field in zip(columns, schema)]
    return pa.Table.from_arrays(arrays, schema=schema)
