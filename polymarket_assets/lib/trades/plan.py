"""Which closed incoming files the sensor hands to which ingestion runs (no Dagster here, so it is easy to test).

``SensorCursor`` / ``plan_runs``: which closed incoming files are new, which are hostile (quarantined, never
planned), which must wait (their batching window is still open, or their hour is not a partition yet), and the
rest grouped into one run per hourly partition with a deterministic run key; plus the next (small) cursor,
which never passes a file that was not handed to a run.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from polymarket_assets.lib.incoming import IncomingFile, day_of_ms, key_ms, valid_hour

if TYPE_CHECKING:
    from collections.abc import Mapping

# kind of incoming file -> the asset that ingests it
ASSET_FOR_KIND = {
    "trades": "trades",
    "book_updates": "book_updates",
    "raw_frames": "ws_raw_frames",
    "ws_gaps": "ws_gaps",
    "market_events": "market_events",
}
# Files named within this many (wall) milliseconds of the newest key seen stay listed in the cursor one by one;
# older ones are covered by the floor. A write takes well under a second, so 5 minutes leaves a wide margin
# for a file that is renamed into place after a later-named one was already listed.
CURSOR_WINDOW_MS = 300_000
MAX_FILES_PER_RUN = 400
# A key or hour more than this far ahead of the sensor's clock is not a real file: it would move the cursor
# floor past every real one. Such files are quarantined, not planned.
FUTURE_SLACK_MS = 86_400_000
# Batching: files are handed to runs by windows of their key's wall-clock millisecond, once the window has
# closed, so each partition gets at most about one run per window. `PM_INGEST_BATCH_S` overrides it.
DEFAULT_BATCH_S = 300
# The recorder's health checks ride along with the first ingestion run of each window of this length (or
# run alone when a window has none): one health evaluation every 5 minutes without a run of its own.
HEALTH_WINDOW_S = 300
BATCH_ENV = "PM_INGEST_BATCH_S"


def batch_window_s(environ: Mapping[str, str] = os.environ) -> int:
    """The batching window from ``PM_INGEST_BATCH_S`` (seconds, >= 0), or the default."""
    text = environ.get(BATCH_ENV, "").strip()
    if not text:
        return DEFAULT_BATCH_S
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{BATCH_ENV} must be a whole number of seconds, not {text!r}") from None
    if value < 0:
        raise ValueError(f"{BATCH_ENV} must be >= 0, not {value}")
    return value


def _floor_key(ms: int) -> str:
    return f"{max(0, ms):013d}"


@dataclass
class SensorCursor:
    floor: str = ""  # every key <= floor was handled
    done: set[str] = field(default_factory=set)  # handled keys above the floor
    health_ms: int = 0  # start of the last batching window whose health checks were requested

    @classmethod
    def parse(cls, text: str | None) -> SensorCursor:
        """The cursor a tick stored; an unreadable one starts over (re-handing files is idempotent)."""
        if not text:
            return cls()
        try:
            data = json.loads(text)
            floor = str(data.get("floor", ""))
            done = {str(k) for k in data.get("done", [])}
            health_ms = int(data.get("health", 0))
        except (ValueError, TypeError, AttributeError):
            return cls()
        if floor and not (floor[:13].isdigit() and len(floor) >= 13):
            return cls()
        return cls(floor=floor, done={k for k in done if k > floor and k[:13].isdigit()}, health_ms=health_ms)

    def dumps(self) -> str:
        return json.dumps(
            {"v": 1, "floor": self.floor, "done": sorted(self.done), "health": self.health_ms},
            separators=(",", ":"),
        )

    def is_new(self, key: str) -> bool:
        return key > self.floor and key not in self.done

    def min_day(self) -> str | None:
        """The oldest day directory that can still hold a new file (one day of slack for clock trouble)."""
        if not self.floor:
            return None
        return day_of_ms(max(0, key_ms(self.floor) - 86_400_000))

    def in_future(self, now_ms: int) -> bool:
        """A floor beyond the clock (left by an older sensor that trusted a far-future key) hides every real file."""
        return bool(self.floor) and key_ms(self.floor) > now_ms + FUTURE_SLACK_MS

    def advanced(
        self, handed: Iterable[str], waiting: Iterable[str] = (), now_ms: int | None = None
    ) -> SensorCursor:
        """The cursor after ``handed`` keys went to runs; the floor stays below every ``waiting`` key and never
        passes the clock, so no file is covered by the floor before it was handed to a run."""
        done = self.done | set(handed)
        waiting = sorted(waiting)
        newest = max(done, default=self.floor)
        floor = self.floor
        if newest:
            limit = key_ms(newest)
            if now_ms is not None:
                limit = min(limit, now_ms)
            candidate = _floor_key(limit - CURSOR_WINDOW_MS)
            if waiting:
                candidate = min(candidate, _floor_key(key_ms(waiting[0]) - 1))
            floor = max(floor, candidate)
        return SensorCursor(floor=floor, done={k for k in done if k > floor}, health_ms=self.health_ms)


@dataclass(frozen=True)
class PlannedRun:
    partition_key: str
    files: tuple[IncomingFile, ...]

    @property
    def run_key(self) -> str:
        digest = hashlib.sha1("\n".join(sorted(f.relpath for f in self.files)).encode()).hexdigest()[:16]
        return f"ws_ingest:{self.partition_key}:{digest}"

    @property
    def assets(self) -> list[str]:
        return sorted({ASSET_FOR_KIND[f.kind] for f in self.files})

    def run_config(self) -> dict:
        ops: dict[str, dict] = {}
        for f in sorted(self.files, key=lambda f: f.key):
            ops.setdefault(ASSET_FOR_KIND[f.kind], {"config": {"files": []}})["config"]["files"].append(
                f.relpath
            )
        return {"ops": ops}


@dataclass
class Plan:
    runs: list[PlannedRun]
    rejected: list[tuple[IncomingFile, str]]  # hostile files: quarantine them, never plan them
    waiting: list[IncomingFile]  # new files for a later tick (open batch window, partition not there yet)
    cursor: SensorCursor


def file_problem(f: IncomingFile, now_ms: int, partition_exists: Callable[[str], bool]) -> str | None:
    """Why a listed file can never be ingested (None when it can, now or later)."""
    if not valid_hour(f.hour):
        return f"impossible hour tag {f.hour!r} in the file name"
    if key_ms(f.key) > now_ms + FUTURE_SLACK_MS:
        return f"file key {f.key} is more than a day ahead of the clock"
    hour_ms = int(f.hour_start.timestamp() * 1000)
    if hour_ms > now_ms + FUTURE_SLACK_MS:
        return f"hour {f.hour} is more than a day ahead of the clock"
    if hour_ms <= now_ms and not partition_exists(f.partition_key):
        return f"hour {f.hour} is before the first hourly partition"
    return None


def plan_runs(
    listed: Iterable[IncomingFile],
    cursor: SensorCursor,
    partition_exists: Callable[[str], bool],
    max_files: int = MAX_FILES_PER_RUN,
    *,
    now_ms: int | None = None,
    batch_ms: int = 0,
) -> Plan:
    """Sort the new files into runs, rejects and waiting ones, and compute the next cursor.

    A file waits while its key's batching window (``batch_ms`` wide, by the key's wall-clock millisecond) is
    still open at ``now_ms``, or while its (near-future) hour is not a partition yet.
    """
    now_ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    open_window_start = now_ms - now_ms % batch_ms if batch_ms > 0 else None
    new = sorted((f for f in listed if cursor.is_new(f.key)), key=lambda f: f.key)
    by_partition: dict[str, list[IncomingFile]] = {}
    rejected, waiting = [], []
    for f in new:
        problem = file_problem(f, now_ms, partition_exists)
        if problem is not None:
            rejected.append((f, problem))
        elif not partition_exists(f.partition_key) or (
            open_window_start is not None and key_ms(f.key) >= open_window_start
        ):
            waiting.append(f)
        else:
            by_partition.setdefault(f.partition_key, []).append(f)
    runs = []
    for pk in sorted(by_partition):
        group = by_partition[pk]
        for i in range(0, len(group), max_files):
            runs.append(PlannedRun(pk, tuple(group[i : i + max_files])))
    # Rejected files are neither handed nor waiting: the caller moves them out of incoming/ (quarantine_file),
    # and one it could not move is reported again next tick. Their keys stay out of the cursor, so a
    # far-future key can neither move the floor nor sit in `done` for ever.
    handed = [f.key for run in runs for f in run.files]
    next_cursor = cursor.advanced(handed, [f.key for f in waiting], now_ms)
    return Plan(runs, rejected, waiting, next_cursor)
