"""Plain logic behind the sensor and the ingestion assets (no Dagster here, so it is easy to test).

- ``SensorCursor`` / ``plan_runs``: which closed incoming files are new, which are hostile (quarantined, never
  planned), which must wait (their batching window is still open, or their hour is not a partition yet), and
  the rest grouped into one run per hourly partition with a deterministic run key; plus the next (small)
  cursor, which never passes a file that was not handed to a run.
- ``files_for_partition``: the validated files a run reads, never anything outside ``incoming/``.
- ``load_incoming``: reads and validates every file of a run on its own; a corrupt, empty or wrong-schema file
  is quarantined alone (``quarantine_file``) and the others are used.
- ``merge_trades`` / ``merge_gaps`` / ``merge_market_events``: idempotent, de-duplicating merges (same file
  twice → same rows).
- ``link_into``: hard-link a validated incoming file into the lake or raw archive (no copy, idempotent).
- ``partition_lock``: one writer per (table, partition) at a time, so concurrent runs never lose rows.
- ``remove_ingested``: ``incoming/`` retention (files are deleted once their rows are in the lake).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from polymarket_assets.lib.compaction import compacted_members
from polymarket_assets.lib.fees import FEE_FIELDS, schedule_from_columns, taker_fee
from polymarket_assets.lib.parquet_store import local_data_dir
from polymarket_assets.lib.quarantine import Quarantine
from polymarket_assets.lib.schemas import TRADES_SCHEMA
from ws_sidecar import files
from ws_sidecar.files import MARKET_EVENTS_SCHEMA, WS_GAPS_SCHEMA

# kind of incoming file -> the asset that ingests it
ASSET_FOR_KIND = {"trades": "trades", "book_updates": "book_updates", "raw_frames": "ws_raw_frames", "ws_gaps": "ws_gaps",
                  "market_events": "market_events"}
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
# What happens to an incoming file once its rows are in the lake: `delete` (default) or `keep`.
RETENTION_ENV = "PM_INCOMING_AFTER_INGEST"
RETENTION_MODES = ("delete", "keep")
QUARANTINE_SOURCE = "ws_ingest"
# Moved files keep their bytes under this directory, with a suffix no `*.parquet` glob matches.
QUARANTINED_FILES_DIR = ("quarantine", "incoming_files")
QUARANTINED_SUFFIX = ".quarantined"
# A quarantine row keeps at most this many raw bytes of a file (the moved file keeps all of them).
RAW_BYTES_IN_ROW = 256 * 1024


def batch_window_s(environ=os.environ) -> int:
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


def retention_mode(environ=os.environ) -> str:
    mode = environ.get(RETENTION_ENV, "").strip() or "delete"
    if mode not in RETENTION_MODES:
        raise ValueError(f"{RETENTION_ENV} must be one of {RETENTION_MODES}, not {mode!r}")
    return mode


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
        return json.dumps({"v": 1, "floor": self.floor, "done": sorted(self.done), "health": self.health_ms},
                          separators=(",", ":"))

    def is_new(self, key: str) -> bool:
        return key > self.floor and key not in self.done

    def min_day(self) -> str | None:
        """The oldest day directory that can still hold a new file (one day of slack for clock trouble)."""
        if not self.floor:
            return None
        return files.day_of_ms(max(0, files.key_ms(self.floor) - 86_400_000))

    def in_future(self, now_ms: int) -> bool:
        """A floor beyond the clock (left by an older sensor that trusted a far-future key) hides every real file."""
        return bool(self.floor) and files.key_ms(self.floor) > now_ms + FUTURE_SLACK_MS

    def advanced(self, handed: Iterable[str], waiting: Iterable[str] = (), now_ms: int | None = None) -> SensorCursor:
        """The cursor after ``handed`` keys went to runs; the floor stays below every ``waiting`` key and never
        passes the clock, so no file is covered by the floor before it was handed to a run."""
        done = self.done | set(handed)
        waiting = sorted(waiting)
        newest = max(done, default=self.floor)
        floor = self.floor
        if newest:
            limit = files.key_ms(newest)
            if now_ms is not None:
                limit = min(limit, now_ms)
            candidate = _floor_key(limit - CURSOR_WINDOW_MS)
            if waiting:
                candidate = min(candidate, _floor_key(files.key_ms(waiting[0]) - 1))
            floor = max(floor, candidate)
        return SensorCursor(floor=floor, done={k for k in done if k > floor}, health_ms=self.health_ms)


@dataclass(frozen=True)
class PlannedRun:
    partition_key: str
    files: tuple[files.IncomingFile, ...]

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
            ops.setdefault(ASSET_FOR_KIND[f.kind], {"config": {"files": []}})["config"]["files"].append(f.relpath)
        return {"ops": ops}


@dataclass
class Plan:
    runs: list[PlannedRun]
    rejected: list[tuple[files.IncomingFile, str]]  # hostile files: quarantine them, never plan them
    waiting: list[files.IncomingFile]  # new files for a later tick (open batch window, partition not there yet)
    cursor: SensorCursor


def file_problem(f: files.IncomingFile, now_ms: int, partition_exists: Callable[[str], bool]) -> str | None:
    """Why a listed file can never be ingested (None when it can, now or later)."""
    if not files.valid_hour(f.hour):
        return f"impossible hour tag {f.hour!r} in the file name"
    if files.key_ms(f.key) > now_ms + FUTURE_SLACK_MS:
        return f"file key {f.key} is more than a day ahead of the clock"
    hour_ms = int(f.hour_start.timestamp() * 1000)
    if hour_ms > now_ms + FUTURE_SLACK_MS:
        return f"hour {f.hour} is more than a day ahead of the clock"
    if hour_ms <= now_ms and not partition_exists(f.partition_key):
        return f"hour {f.hour} is before the first hourly partition"
    return None


def plan_runs(
    listed: Iterable[files.IncomingFile],
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
    by_partition: dict[str, list[files.IncomingFile]] = {}
    rejected, waiting = [], []
    for f in new:
        problem = file_problem(f, now_ms, partition_exists)
        if problem is not None:
            rejected.append((f, problem))
        elif not partition_exists(f.partition_key) or (
            open_window_start is not None and files.key_ms(f.key) >= open_window_start
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


def partition_hour(partition_key: str) -> str:
    """``2026-11-25-06:00`` → ``20261125T06`` (the hour tag in incoming file names)."""
    return partition_key[:4] + partition_key[5:7] + partition_key[8:10] + "T" + partition_key[11:13]


def files_for_partition(data_dir, kind: str, partition_key: str, relpaths: list[str]) -> tuple[list[files.IncomingFile], list[str]]:
    """The files a run ingests: the given identities (validated), or every file of the partition's hour.

    Returns (files, rejected identities). A rejected identity is not one of ours or not of this kind or hour;
    it is reported, never opened. An identity of ours that is no longer there was ingested and removed by an
    earlier run (a retry, a re-sent request): it is neither returned nor rejected.
    """
    hour = partition_hour(partition_key)
    if not relpaths:
        return sorted((f for f in files.list_incoming(data_dir, [kind]) if f.hour == hour), key=lambda f: f.key), []
    chosen, rejected = [], []
    for rel in dict.fromkeys(relpaths):
        f = files.resolve_relpath(data_dir, rel)
        if f is None and _ours_but_gone(data_dir, rel, kind, hour):
            continue
        if f is None or f.kind != kind or f.hour != hour:
            rejected.append(rel)
        else:
            chosen.append(f)
    return sorted(chosen, key=lambda f: f.key), rejected


def _ours_but_gone(data_dir, relpath: str, kind: str, hour: str) -> bool:
    parts = relpath.split("/")
    if len(parts) != 3 or parts[0] != kind or not files.DAY_RE.fullmatch(parts[1]):
        return False
    match = files.NAME_RE.fullmatch(parts[2])
    return match is not None and match["kind"] == kind and match["hour"] == hour and not os.path.lexists(
        files.incoming_root(data_dir) / kind / parts[1] / parts[2]
    )


@contextlib.contextmanager
def partition_lock(data_dir, table: str, partition_key: str) -> Iterator[None]:
    directory = local_data_dir(data_dir, "trades ingestion") / "lake" / ".locks"
    directory.mkdir(parents=True, exist_ok=True)
    safe = partition_key.replace(":", "").replace("/", "_")
    with open(directory / f"{table}-{safe}.lock", "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@dataclass
class LoadedFiles:
    table: pa.Table  # the rows of every good file, with an `incoming_file` column
    good: list[files.IncomingFile]
    tables: dict[str, pa.Table]  # relpath -> that file's rows, cast to the kind's schema
    quarantined: list[tuple[files.IncomingFile, str]]


def validate_file(f: files.IncomingFile) -> tuple[pa.Table | None, str | None]:
    """(rows cast to the kind's schema, None) for a good file, or (None, reason) for one to quarantine.

    Reads the whole file: a file whose footer is fine but whose pages are not is caught here, before any of
    it reaches the lake. Every row must belong to the hour in the file's name (its partition).
    """
    schema = files.SCHEMAS[f.kind]
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
        column = table.column(files.HOUR_COLUMN[f.kind])
        hours = pc.divide(pc.cast(column, pa.int64()), files.HOUR_UNIT[f.kind] * 3600)  # partitions are after 1970: no negatives
        expected = int(f.hour_start.timestamp()) // 3600
        outside = table.num_rows - pc.sum(pc.equal(hours, expected).fill_null(False).cast(pa.int64())).as_py()
        if outside:
            return None, f"{outside} of {table.num_rows} rows have a {files.HOUR_COLUMN[f.kind]} outside the hour {f.hour}"
    return table, None


def quarantine_file(data_dir, path: Path, relpath: str, reason: str, quarantine: Quarantine) -> Path | None:
    """Move one incoming entry out of ``incoming/`` into ``quarantine/incoming_files/`` and record why.

    The quarantine row carries the reason and the raw bytes (up to ``RAW_BYTES_IN_ROW``; the moved file keeps
    all of them); a symlink is moved as a link (its target is recorded, never read). Returns where it went,
    or None when it could not be moved (it is then reported again by the next sensor tick or run).
    """
    if os.path.islink(path):
        raw: bytes | str = f"symlink -> {os.readlink(path)}"
        size = None
    else:
        try:
            with open(path, "rb") as handle:
                raw = handle.read(RAW_BYTES_IN_ROW + 1)
            size = os.path.getsize(path)
        except OSError as exc:
            raw, size = f"unreadable: {exc}", None
    target = Path(data_dir).joinpath(*QUARANTINED_FILES_DIR, relpath + QUARANTINED_SUFFIX)
    moved: Path | None = target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
    except OSError:
        moved = None
    truncated = isinstance(raw, bytes) and len(raw) > RAW_BYTES_IN_ROW
    quarantine.add(
        reason,
        raw[:RAW_BYTES_IN_ROW] if truncated else raw,
        {"incoming_file": relpath, "size": size, "raw_truncated": truncated, "moved_to": str(moved) if moved else None},
    )
    return moved


def load_incoming(
    data_dir, kind: str, chosen: Iterable[files.IncomingFile], quarantine: Quarantine, now: datetime | None = None
) -> LoadedFiles:
    """Read and validate each file on its own; bad ones are quarantined (and moved away), good ones returned.

    A file that vanished since it was chosen (already ingested and removed by a concurrent run) is skipped:
    its rows are in the lake already.
    """
    good, tables, bad = [], {}, []
    for f in chosen:
        if not os.path.lexists(f.path):
            continue
        table, reason = validate_file(f)
        if reason is not None:
            quarantine_file(data_dir, f.path, f.relpath, reason, quarantine)
            bad.append((f, reason))
            continue
        good.append(f)
        tables[f.relpath] = table
    if bad:
        quarantine.flush(now or datetime.now(UTC))
    schema = files.SCHEMAS[kind].append(pa.field("incoming_file", pa.string()))
    parts = [t.append_column("incoming_file", pa.repeat(pa.scalar(rel, pa.string()), t.num_rows)) for rel, t in tables.items()]
    table = pa.concat_tables(parts) if parts else schema.empty_table()
    return LoadedFiles(table, good, tables, bad)


def remove_ingested(ingested: Iterable[files.IncomingFile], mode: str) -> int:
    """``incoming/`` retention: once a file's rows are durable in the lake, delete it (mode ``delete``)."""
    if mode == "keep":
        return 0
    removed = 0
    for f in ingested:
        try:
            os.unlink(f.path)
            removed += 1
        except FileNotFoundError:
            pass
    return removed


_MARKET_COLUMNS = ["condition_id", "yes_token_id", "no_token_id", "yes_outcome", "no_outcome"]
_MARKETS_SCHEMA = pa.schema([(c, pa.string()) for c in _MARKET_COLUMNS] + [("yes_index", pa.int64()), ("no_index", pa.int64())])


def _listed_index(outcomes_json: str | None, name: str | None) -> int | None:
    """Where outcome ``name`` sits in the market's listed ``outcomes`` (a market may list ["No", "Yes"]);
    None when the listing is not known (tables written before ``outcomes`` was stored)."""
    if not outcomes_json or name is None:
        return None
    try:
        listed = json.loads(outcomes_json)
    except ValueError:
        return None
    return listed.index(name) if isinstance(listed, list) and name in listed else None


def _markets_table(markets: pa.Table | None) -> pa.Table:
    """Token → outcome name and listed index, per market, for trades that carry neither (websocket rows)."""
    if markets is None:
        return _MARKETS_SCHEMA.empty_table()
    rows = markets.select(_MARKET_COLUMNS).to_pylist()
    outcomes = markets.column("outcomes").to_pylist() if "outcomes" in markets.column_names else [None] * len(rows)
    for row, listed in zip(rows, outcomes, strict=True):
        row["yes_index"] = _listed_index(listed, row["yes_outcome"])
        row["no_index"] = _listed_index(listed, row["no_outcome"])
    return pa.Table.from_pylist(rows, schema=_MARKETS_SCHEMA)


def _fee_usd(table: pa.Table, markets: pa.Table | None) -> pa.Array:
    """Each row's kept ``fee_usd``, else the taker fee under its market's current schedule (NULL if unknown)."""
    fee_names = [f.name for f in FEE_FIELDS]
    schedules: dict[str, dict] = {}
    if markets is not None and set(fee_names) <= set(markets.column_names):
        for row in markets.select(["condition_id", *fee_names]).to_pylist():
            if row["fees_enabled"] is not None:
                schedules[row["condition_id"]] = row
    kept = table.column("fee_usd").to_pylist()
    out = []
    for fee, cid, size, price in zip(kept, table.column("condition_id").to_pylist(), table.column("size").to_pylist(),
                                     table.column("price").to_pylist()):
        market = schedules.get(cid)
        if fee is None and market is not None:
            fee = taker_fee(size, price, schedule_from_columns(market), market["fees_enabled"])
        out.append(fee)
    return pa.array(out, pa.float64())


def merge_trades(existing: pa.Table | None, incoming: pa.Table, markets: pa.Table | None, ingested_at_us: int) -> tuple[pa.Table, dict]:
    """Existing partition rows ∪ incoming rows, one row per ``trade_uid`` (the earliest received), enriched.

    ``outcome`` comes from the row (Data API) or from ``markets_current`` by token (WS rows carry none);
    ``notional_usd = size × price``; ``fee_usd`` is the taker fee under the market's schedule in
    ``markets_current`` when the row was first ingested, and is kept as it was on later merges. Returns the
    table in ``TRADES_SCHEMA`` and counts for metadata.
    """
    con = duckdb.connect()
    try:
        con.register("incoming_raw", incoming)
        con.register("markets", _markets_table(markets))
        old = existing if existing is not None else TRADES_SCHEMA.empty_table()
        if "fee_usd" not in old.column_names:  # a partition written before trades had fees
            old = old.append_column("fee_usd", pa.nulls(old.num_rows, pa.float64()))
        con.register("old_rows", old.select(TRADES_SCHEMA.names))
        table = con.sql(
            f"""
            WITH new_rows AS (
                SELECT trade_uid, source, asset_id, condition_id, outcome, outcome_index, side, price, size,
                       size * price AS notional_usd, fee_rate_bps, exchange_ts, received_at, transaction_hash,
                       connection_id, run_id, incoming_file, make_timestamp({int(ingested_at_us)}) AS ingested_at,
                       CAST(NULL AS DOUBLE) AS fee_usd
                FROM incoming_raw
            ),
            all_rows AS (
                SELECT *, 0 AS pref FROM old_rows UNION ALL BY NAME SELECT *, 1 AS pref FROM new_rows
            ),
            unique_rows AS (
                SELECT * FROM all_rows
                QUALIFY row_number() OVER (PARTITION BY trade_uid ORDER BY pref, received_at, incoming_file) = 1
            )
            SELECT u.trade_uid, u.source, u.asset_id, u.condition_id,
                   COALESCE(u.outcome, CASE WHEN u.asset_id = m.yes_token_id THEN m.yes_outcome
                                            WHEN u.asset_id = m.no_token_id THEN m.no_outcome END) AS outcome,
                   COALESCE(u.outcome_index, CASE WHEN u.asset_id = m.yes_token_id THEN m.yes_index
                                                  WHEN u.asset_id = m.no_token_id THEN m.no_index END) AS outcome_index,
                   u.side, u.price, u.size, u.size * u.price AS notional_usd, u.fee_rate_bps, u.exchange_ts,
                   u.received_at, u.transaction_hash, u.connection_id, u.run_id, u.incoming_file, u.ingested_at,
                   u.fee_usd
            FROM unique_rows u LEFT JOIN (SELECT DISTINCT * FROM markets) m ON m.condition_id = u.condition_id
            ORDER BY u.exchange_ts, u.trade_uid
            """
        ).to_arrow_table()
    finally:
        con.close()
    table = table.set_column(table.schema.get_field_index("fee_usd"), "fee_usd", _fee_usd(table, markets))
    table = table.cast(TRADES_SCHEMA)
    before = 0 if existing is None else existing.num_rows
    counts = {
        "rows": table.num_rows,
        "incoming_rows": incoming.num_rows,
        "new_rows": table.num_rows - before,
        "duplicates_dropped": before + incoming.num_rows - table.num_rows,
    }
    return table, counts


def _merge_unique(existing: pa.Table | None, incoming: pa.Table, schema: pa.Schema, key: str, time_column: str) -> pa.Table:
    """Existing ∪ incoming rows, the first row of each ``key`` kept, ordered by ``time_column`` then ``key``."""
    tables = [t.select(schema.names).cast(schema) for t in (existing, incoming) if t is not None]
    merged = pa.concat_tables(tables) if tables else schema.empty_table()
    seen, keep = set(), []
    for i, value in enumerate(merged.column(key).to_pylist()):
        if value not in seen:
            seen.add(value)
            keep.append(i)
    return merged.take(pa.array(keep, pa.int64())).sort_by([(time_column, "ascending"), (key, "ascending")])


def merge_gaps(existing: pa.Table | None, incoming: pa.Table) -> pa.Table:
    return _merge_unique(existing, incoming, WS_GAPS_SCHEMA, "gap_id", "start_ts")


def merge_market_events(existing: pa.Table | None, incoming: pa.Table) -> pa.Table:
    """One row per event (``event_key``): every socket with custom events enabled, and every restart, repeats it."""
    return _merge_unique(existing, incoming, MARKET_EVENTS_SCHEMA, "event_key", "exchange_ts")


def link_into(source: files.IncomingFile, directory: Path) -> bool:
    """Hard-link an incoming file into ``directory`` under its own name (copy across filesystems).

    Incoming files are immutable once renamed, so a link is a safe, free "copy". Returns False when it was
    already there (a re-run), also merged into the partition's compacted file, True when it was added.
    """
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / source.name
    if target.exists() or source.name in compacted_members(directory):
        return False
    tmp = directory / f".tmp-link-{source.name}"
    tmp.unlink(missing_ok=True)
    try:
        os.link(source.path, tmp)
    except OSError:
        shutil.copyfile(source.path, tmp)
    os.replace(tmp, target)
    return True


def union_minutes(intervals: Iterable[tuple[float, float]], lo: float, hi: float) -> float:
    """Minutes of [lo, hi) covered by the union of (start, end) intervals in epoch seconds."""
    clipped = sorted((max(s, lo), min(e, hi)) for s, e in intervals if e > lo and s < hi)
    total, current = 0.0, None
    for s, e in clipped:
        if current is None or s > current[1]:
            if current is not None:
                total += current[1] - current[0]
            current = [s, e]
        else:
            current[1] = max(current[1], e)
    if current is not None:
        total += current[1] - current[0]
    return total / 60.0
