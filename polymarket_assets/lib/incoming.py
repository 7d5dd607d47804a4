"""The incoming-file contract between the recorder (`ws_sidecar`, the writer) and the Dagster sensor and
ingestion assets (the readers): names, day directories, row layouts, gap reasons, and the helpers that list,
resolve and read the files. The writer's own side (temporary file, fsync, rename) is `ws_sidecar/files.py`.

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

A file is written under a hidden temporary name (``TMP_PREFIX``) in the same directory, fsynced, renamed, and
the directory fsynced; after the rename it is never modified. Readers must ignore every name that does not
match ``NAME_RE`` (temporary files start with a dot).

The row layouts are the ``INCOMING_*_SCHEMA``s. The lake's `book_updates`, `ws_raw_frames`, `ws_gaps` and
`market_events` keep them as they are; the lake's `trades` has its own, wider layout (`lib/schemas.py`).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from polymarket_assets.lib.schemas import (
    INCOMING_BOOK_UPDATES_SCHEMA,
    INCOMING_MARKET_EVENTS_SCHEMA,
    INCOMING_RAW_FRAMES_SCHEMA,
    INCOMING_TRADES_SCHEMA,
    INCOMING_WS_GAPS_SCHEMA,
)

KINDS = ("trades", "book_updates", "raw_frames", "ws_gaps", "market_events")

NAME_RE = re.compile(
    r"^(?P<kind>trades|book_updates|raw_frames|ws_gaps|market_events)-(?P<hour>\d{8}T\d{2})-"
    r"(?P<key>(?P<ms>\d{13})-(?P<seq>\d{8})-(?P<run>[0-9a-f]{8}))\.parquet$"
)
DAY_RE = re.compile(r"^day=(\d{4}-\d{2}-\d{2})$")
TMP_PREFIX = ".tmp-"

# The `ws_gaps` reasons other code tells apart: a resync of some books (not an outage) and the exchange's
# planned matching-engine restart (polymarket_api.md §9.8: recorded, but not a collection failure).
RESYNC = "resync"
PLANNED_RESTART = "planned_restart"

INCOMING_SCHEMAS = {
    "trades": INCOMING_TRADES_SCHEMA,
    "book_updates": INCOMING_BOOK_UPDATES_SCHEMA,
    "raw_frames": INCOMING_RAW_FRAMES_SCHEMA,
    "ws_gaps": INCOMING_WS_GAPS_SCHEMA,
    "market_events": INCOMING_MARKET_EVENTS_SCHEMA,
}
# The column whose value decides a row's hour (and so its file and partition).
HOUR_COLUMN = {
    "trades": "exchange_ts",
    "book_updates": "exchange_ts",
    "raw_frames": "received_at",
    "ws_gaps": "start_ts",
    "market_events": "exchange_ts",
}
HOUR_UNIT = {
    "trades": 1000,
    "book_updates": 1000,
    "raw_frames": 1_000_000,
    "ws_gaps": 1000,
    "market_events": 1000,
}


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
            # Ingestion deletes what it took in while a listing runs: a day directory or file gone by the time
            # it is read was never there (it is not an error, and its files are in the lake).
            try:
                entries = os.scandir(day.path)
            except FileNotFoundError:
                continue
            with entries:
                for entry in entries:
                    match = NAME_RE.fullmatch(entry.name)
                    if match is None or match["kind"] != kind:
                        continue
                    if not entry.is_file(follow_symlinks=False):
                        if odd is not None:
                            what = "symlink" if entry.is_symlink() else "not a regular file"
                            odd.append(
                                (Path(entry.path), f"{what} with an incoming file name (never followed)")
                            )
                        continue
                    try:
                        size = entry.stat().st_size
                    except FileNotFoundError:
                        continue
                    yield IncomingFile(kind, match["hour"], match["key"], Path(entry.path), size)


def read_incoming(f: IncomingFile) -> tuple[pa.Table | None, str | None]:
    """(rows cast to the kind's incoming schema, None) for a good file, or (None, reason) for one to quarantine.

    Reads the whole file: a file whose footer is fine but whose pages are not is caught here, before any of
    it reaches the lake. Every row must belong to the hour in the file's name (its partition).
    """
    schema = INCOMING_SCHEMAS[f.kind]
    try:
        size = os.stat(f.path, follow_symlinks=False).st_size
    except OSError as exc:
        return None, f"cannot stat: {exc}"
    if size == 0:
        return None, "empty file (0 bytes)"
    try:
        table = pq.read_table(f.path)
    except Exception as exc:  # noqa: BLE001 - any failure to read a file we did not write ourselves means "bad file"
        return None, f"unreadable Parquet ({type(exc).__name__}: {str(exc)[:300]})"
    missing = [name for name in schema.names if name not in table.schema.names]
    if missing:
        return None, f"wrong schema: missing columns {missing}"
    try:
        table = table.select(schema.names).cast(schema)
    except Exception as exc:  # noqa: BLE001 - a column of an incompatible type
        return None, f"wrong schema ({type(exc).__name__}: {str(exc)[:300]})"
    if table.num_rows:
        column = table.column(HOUR_COLUMN[f.kind])
        hours = pc.divide(
            pc.cast(column, pa.int64()), HOUR_UNIT[f.kind] * 3600
        )  # partitions are after 1970: no negatives
        expected = int(f.hour_start.timestamp()) // 3600
        outside = table.num_rows - pc.sum(pc.equal(hours, expected).fill_null(False).cast(pa.int64())).as_py()
        if outside:
            return (
                None,
                f"{outside} of {table.num_rows} rows have a {HOUR_COLUMN[f.kind]} outside the hour {f.hour}",
            )
    return table, None
