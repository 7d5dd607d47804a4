"""The only thread that writes incoming files: it drains every buffer every N seconds or M rows.

Each flush takes the rows of every connection (and the gap and backfill rows), splits them by hour, and
writes one closed Parquet file per (kind, hour) through ``files.write_atomic``. File keys are assigned here,
in rename order, so the sensor's key order is the order files appeared. After a flush the recorder's state
records ``durable_through``: every row received before that instant is on disk.

Every row is judged on its own: a row that does not convert to its schema, or whose hour column breaks the
time contract (``parse_common.time_window``), is quarantined alone and the rest of its window is written. A
part that fails with an OSError (the disk) is queued again; one that Arrow refuses to write (its rows' types or
values) is quarantined rather than retried forever.

When writes fail (a full disk, ENOSPC), nothing is lost at first: unwritten rows go back in the queue and the
next flush retries them; ``failing_since`` and ``last_error`` say so. Memory is bounded, though: once more than
``max_buffered_rows`` wait, the buffered trades, book updates and raw frames are dropped and reported through
``on_dropped(start_us, end_us, rows_by_kind)`` (the recorder turns that into a gap row); gap rows are never
dropped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc

from polymarket_assets.lib import incoming
from polymarket_assets.lib.errors import ParseError
from polymarket_assets.lib.parse_common import time_window, to_epoch_ms
from ws_sidecar import files

log = logging.getLogger(__name__)


class Writer(threading.Thread):
    def __init__(
        self,
        data_dir,
        run_id: str,
        clock,
        *,
        interval_s: float = 10.0,
        max_rows: int = 200_000,
        first_key_ms: int = 0,
        on_flushed: Callable[[int, int], None] | None = None,
        quarantine=None,
        debug_delay_s: float = 0.0,
        max_buffered_rows: int | None = None,
        on_dropped: Callable[[int, int, dict[str, int]], None] | None = None,
    ):
        super().__init__(name="writer", daemon=True)
        self.data_dir = data_dir
        self.run_id = run_id
        self.clock = clock
        self.interval_s = interval_s
        self.max_rows = max_rows
        self.on_flushed = on_flushed
        self.quarantine = quarantine
        self.debug_delay_s = debug_delay_s
        self._sources: list = []  # FrameProcessor-like objects with take() and pending_rows()
        self._extra: dict[str, list[tuple]] = {kind: [] for kind in incoming.KINDS}  # full row tuples
        self._tables: dict[str, list[pa.Table]] = {kind: [] for kind in incoming.KINDS}  # converted batches
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._urgent: set[str] = set()
        self._halt = threading.Event()
        self._flush_lock = threading.Lock()  # one flush at a time (the thread, or a caller of flush_now)
        self._last_ms = first_key_ms
        self._seq = 0
        self.files_written: Counter[str] = Counter()
        self.rows_written: Counter[str] = Counter()
        self.last_file_key = ""
        self.last_flush_wall = time.time()
        self.flush_seconds = 0.0
        self.errors = 0  # failed flush attempts, ever
        self.consecutive_errors = 0  # failed flush attempts since the last good one (0 = healthy)
        self.last_error: str | None = None
        self.rows_quarantined: Counter[str] = Counter()  # rows kept out of the files, each in the quarantine
        self.max_buffered_rows = max_buffered_rows if max_buffered_rows is not None else 5 * max_rows
        self.on_dropped = on_dropped
        self.failing_since: float | None = None  # wall time of the first failed flush of the current streak
        self.rows_dropped: Counter[str] = (
            Counter()
        )  # rows shed while writes failed, each covered by a gap row

    # -- sources ------------------------------------------------------------------------------------------

    def add_source(self, source) -> None:
        with self._lock:
            self._sources.append(source)

    def remove_source(self, source) -> None:
        """Stop polling a source; its remaining rows go out with the next flush."""
        with self._lock:
            if source in self._sources:
                self._sources.remove(source)
        trades, books, raw = source.take()
        with self._lock:
            self._extra["trades"].extend(trades)
            self._tables["book_updates"].append(books)
            self._tables["raw_frames"].append(raw)

    def add_rows(self, kind: str, rows: list[tuple], *, urgent: bool = False) -> None:
        """Queue rows; ``urgent`` ones (gap rows) are written within a quarter of a second, on their own."""
        with self._lock:
            self._extra[kind].extend(rows)
            if urgent:
                self._urgent.add(kind)
        if urgent or len(rows) >= self.max_rows:
            self._wake.set()

    def pending_rows(self) -> int:
        with self._lock:
            queued = sum(len(v) for v in self._extra.values())
            queued += sum(t.num_rows for tables in self._tables.values() for t in tables)
            return queued + sum(s.pending_rows() for s in self._sources)

    # -- the thread ---------------------------------------------------------------------------------------

    def run(self) -> None:
        next_flush = time.monotonic() + self.interval_s
        while not self._halt.is_set():
            self._wake.wait(0.25)
            self._wake.clear()
            with self._lock:
                urgent, self._urgent = tuple(self._urgent), set()
            if urgent:
                self._attempt(urgent)
            # While writes fail, retry on the interval only (not every quarter second because rows piled up).
            if time.monotonic() >= next_flush or (
                self.failing_since is None and self.pending_rows() >= self.max_rows
            ):
                self._attempt(None)
                next_flush = time.monotonic() + self.interval_s

    def _attempt(self, kinds: tuple[str, ...] | None) -> None:
        try:
            self.flush(kinds=kinds)
            if kinds is None:
                self.failing_since = None
        except Exception as exc:
            self.errors += 1
            self.consecutive_errors += 1
            self.last_error = f"{type(exc).__name__}: {exc}"[:300]
            if self.failing_since is None:
                self.failing_since = time.time()
                # flush() re-queues exactly the parts it did not write, so this count is what is really kept.
                log.exception("flush failed; %d rows queued for the next attempt", self.pending_rows())
            else:  # one traceback per failure streak; the status file carries the count
                log.warning(
                    "flush failed again (failing for %.0f s): %s",
                    time.time() - self.failing_since,
                    self.last_error,
                )
            if kinds is None:
                self._shed()

    def stop(self) -> None:
        self._halt.set()
        self._wake.set()

    def _shed(self) -> None:
        """Beyond ``max_buffered_rows`` waiting rows, drop every buffered data row (not gap rows) and report
        the span they covered, so memory stays bounded and the loss is a recorded gap, never a silent one."""
        with self._lock:
            queued = sum(
                len(self._extra[k]) + sum(t.num_rows for t in self._tables[k])
                for k in incoming.KINDS
                if k != "ws_gaps"
            )
            if queued <= self.max_buffered_rows:
                return
            dropped: dict[str, int] = {}
            spans = []
            for kind in incoming.KINDS:
                if kind == "ws_gaps":
                    continue
                parts = [t for t in self._tables[kind] if t.num_rows]
                if self._extra[kind]:
                    parts.append(files.table_from_rows(kind, self._extra[kind]))
                self._tables[kind], self._extra[kind] = [], []
                for part in parts:
                    received = pc.cast(part.column("received_at"), pa.int64())
                    spans.append((pc.min(received).as_py(), pc.max(received).as_py()))
                    dropped[kind] = dropped.get(kind, 0) + part.num_rows
        self.rows_dropped.update(dropped)
        starts = [s for s, _ in spans if s is not None]
        ends = [e for _, e in spans if e is not None]
        log.error("writes failing (%s): dropped %s buffered rows to bound memory", self.last_error, dropped)
        if self.on_dropped is not None and starts:
            self.on_dropped(min(starts), max(ends), dropped)

    def flush(self, kinds: tuple[str, ...] | None = None) -> list:
        """Write everything pending (or only ``kinds`` from the queued rows, sources untouched)."""
        with self._flush_lock:
            cut_us = self.clock.now_us()
            rows: dict[str, list[tuple]] = {kind: [] for kind in incoming.KINDS}
            tables: dict[str, list[pa.Table]] = {kind: [] for kind in incoming.KINDS}
            with self._lock:
                for kind in incoming.KINDS:
                    if kinds is None or kind in kinds:
                        rows[kind], self._extra[kind] = self._extra[kind], []
                        tables[kind], self._tables[kind] = self._tables[kind], []
                sources = list(self._sources) if kinds is None else []
            for source in sources:
                trades, books, raw = source.take()
                rows["trades"].extend(trades)
                tables["book_updates"].append(books)
                tables["raw_frames"].append(raw)
            started = time.perf_counter()
            written = []
            pending = {}
            for kind in incoming.KINDS:
                parts = [t for t in tables[kind] if t.num_rows]
                if rows[kind]:
                    converted, rejected = files.convert_each(
                        lambda batch, _, kind=kind: files.table_from_rows(kind, batch), rows[kind]
                    )
                    parts += converted
                    for row, reason in rejected:
                        self._quarantine(kind, reason, dict(zip(incoming.INCOMING_SCHEMAS[kind].names, row)))
                parts = [t for t in parts if t.num_rows]
                if parts:
                    pending[kind] = self._in_window(kind, pa.concat_tables(parts))
            parts = [
                (kind, hour, part)
                for kind, table in pending.items()
                for hour, part in self._by_hour(kind, table)
            ]
            try:
                while parts:
                    kind, hour, part = parts[0]
                    try:
                        written.append(self._write_part(kind, hour, part))
                    except OSError:
                        raise  # the disk, not the rows: keep them for the next attempt
                    except files.ROW_ERRORS as exc:  # the rows cannot be written: retrying would fail forever
                        for row in _plain_rows(part):
                            self._quarantine(
                                kind, f"rows could not be written: {type(exc).__name__}: {exc}"[:300], row
                            )
                    parts.pop(0)
            except BaseException:
                with (
                    self._lock
                ):  # nothing is lost or written twice: only unwritten parts go back in the queue
                    for kind, _, part in parts:
                        self._tables[kind].insert(0, part)
                raise
            self.consecutive_errors = 0
            if self.quarantine is not None and kinds is None:
                self.quarantine.flush(_utc(cut_us))
            self.flush_seconds += time.perf_counter() - started
            self.last_flush_wall = time.time()
            if self.on_flushed is not None:
                self.on_flushed(cut_us if kinds is None else 0, self._last_ms)
            return written

    def _next_key(self) -> tuple[int, int]:
        now_ms = time.time_ns() // 1_000_000
        self._last_ms = max(now_ms, self._last_ms)
        self._seq += 1
        return self._last_ms, self._seq

    def _quarantine(self, kind: str, reason: str, row: dict) -> None:
        self.rows_quarantined[kind] += 1
        if self.quarantine is not None:
            self.quarantine.add(reason, row, {"writer": kind})
        else:
            log.error("%s row rejected and no quarantine configured: %s", kind, reason)

    def _in_window(self, kind: str, table: pa.Table) -> pa.Table:
        """The rows whose hour column obeys the time contract; the others (a timestamp in seconds would land in a
        1970 file no sensor reads, one in microseconds would name no valid hour) are quarantined one by one."""
        column = incoming.HOUR_COLUMN[kind]
        per_ms = incoming.HOUR_UNIT[kind] // 1000
        window = time_window()
        values = pc.cast(table.column(column), pa.int64())
        ok = pc.and_(
            pc.greater_equal(values, window.min_ms * per_ms), pc.less_equal(values, window.max_ms() * per_ms)
        )
        ok = pc.fill_null(ok, False)
        if pc.all(ok).as_py():
            return table
        for row in _plain_rows(table.filter(pc.invert(ok))):
            value = row[column]
            try:
                to_epoch_ms(None if value is None else value // per_ms, column)
                reason = f"{column} is outside the time window"  # the window's upper end moved on meanwhile
            except ParseError as exc:
                reason = exc.reason
            self._quarantine(kind, reason, row)
        return table.filter(ok)

    @staticmethod
    def _by_hour(kind: str, table: pa.Table) -> list[tuple[int, pa.Table]]:
        """(hour as epoch hours, rows of that hour): one file never spans two hours."""
        per_hour = incoming.HOUR_UNIT[kind] * 3600
        hours = pc.divide(pc.cast(table.column(incoming.HOUR_COLUMN[kind]), pa.int64()), per_hour)
        unique = sorted(hours.unique().to_pylist())
        if len(unique) == 1:
            return [(unique[0], table)]
        return [(hour, table.filter(pc.equal(hours, hour))) for hour in unique]

    def _write_part(self, kind: str, hour: int, part: pa.Table):
        ms, seq = self._next_key()
        name = incoming.file_name(kind, incoming.hour_of_epoch_s(hour * 3600), ms, seq, self.run_id)
        path = incoming.incoming_root(self.data_dir) / kind / f"day={incoming.day_of_ms(ms)}" / name
        files.write_atomic(part, path, debug_delay_s=self.debug_delay_s)
        self.files_written[kind] += 1
        self.rows_written[kind] += part.num_rows
        self.last_file_key = name
        return path


def _plain_rows(table: pa.Table) -> list[dict]:
    """Rows as plain values, timestamps as their integers: an out-of-range timestamp has no datetime to become."""
    columns = [pc.cast(c, pa.int64()) if pa.types.is_timestamp(c.type) else c for c in table.columns]
    return pa.Table.from_arrays(columns, names=table.column_names).to_pylist()


def _utc(us: int) -> datetime:
    return datetime.fromtimestamp(us / 1e6, tz=UTC)
