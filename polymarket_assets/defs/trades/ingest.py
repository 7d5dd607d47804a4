"""Plain logic behind the sensor and the ingestion assets (no Dagster here, so it is easy to test).

- ``SensorCursor`` / ``plan_runs``: which closed incoming files are new, grouped into one run per hourly
  partition, with a deterministic run key, and the next (small) cursor.
- ``files_for_partition``: the validated files a run reads, never anything outside ``incoming/``.
- ``merge_trades`` / ``merge_gaps`` / ``merge_market_events``: idempotent, de-duplicating merges (same file
  twice → same rows).
- ``link_into``: hard-link an immutable incoming file into the lake or raw archive (no copy, idempotent).
- ``partition_lock``: one writer per (table, partition) at a time, so concurrent runs never lose rows.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from polymarket_assets.defs.trades.schema import MARKET_EVENTS_SCHEMA, TRADES_SCHEMA, WS_GAPS_SCHEMA
from polymarket_assets.lib.fees import FEE_FIELDS, schedule_from_columns, taker_fee
from polymarket_assets.lib.parquet_store import local_data_dir
from ws_sidecar import files

# kind of incoming file -> the asset that ingests it
ASSET_FOR_KIND = {"trades": "trades", "book_updates": "book_updates", "raw_frames": "ws_raw_frames", "ws_gaps": "ws_gaps",
                  "market_events": "market_events"}
# Files named within this many (wall) milliseconds of the newest key seen stay listed in the cursor one by one;
# older ones are covered by the floor. A write takes well under a second, so 5 minutes leaves a wide margin
# for a file that is renamed into place after a later-named one was already listed.
CURSOR_WINDOW_MS = 300_000
MAX_FILES_PER_RUN = 400


@dataclass
class SensorCursor:
    floor: str = ""  # every key <= floor was handled
    done: set[str] = field(default_factory=set)  # handled keys above the floor

    @classmethod
    def parse(cls, text: str | None) -> SensorCursor:
        if not text:
            return cls()
        data = json.loads(text)
        return cls(floor=str(data.get("floor", "")), done=set(data.get("done", [])))

    def dumps(self) -> str:
        return json.dumps({"v": 1, "floor": self.floor, "done": sorted(self.done)}, separators=(",", ":"))

    def is_new(self, key: str) -> bool:
        return key > self.floor and key not in self.done

    def min_day(self) -> str | None:
        """The oldest day directory that can still hold a new file (one day of slack for clock trouble)."""
        if not self.floor:
            return None
        return files.day_of_ms(max(0, files.key_ms(self.floor) - 86_400_000))

    def advanced(self, keys: Iterable[str]) -> SensorCursor:
        done = self.done | set(keys)
        newest = max(done, default=self.floor)
        floor = self.floor
        if newest:
            candidate = f"{max(0, files.key_ms(newest) - CURSOR_WINDOW_MS):013d}"
            floor = max(floor, candidate)
        return SensorCursor(floor=floor, done={k for k in done if k > floor})


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


def plan_runs(
    listed: Iterable[files.IncomingFile],
    cursor: SensorCursor,
    partition_exists,
    max_files: int = MAX_FILES_PER_RUN,
) -> tuple[list[PlannedRun], list[files.IncomingFile], SensorCursor]:
    """(runs to request, new files skipped because their hour is not a partition, next cursor)."""
    new = sorted((f for f in listed if cursor.is_new(f.key)), key=lambda f: f.key)
    by_partition: dict[str, list[files.IncomingFile]] = {}
    skipped = []
    for f in new:
        if partition_exists(f.partition_key):
            by_partition.setdefault(f.partition_key, []).append(f)
        else:
            skipped.append(f)
    runs = []
    for pk in sorted(by_partition):
        group = by_partition[pk]
        for i in range(0, len(group), max_files):
            runs.append(PlannedRun(pk, tuple(group[i : i + max_files])))
    return runs, skipped, cursor.advanced(f.key for f in new)


def partition_hour(partition_key: str) -> str:
    """``2026-11-25-06:00`` → ``20261125T06`` (the hour tag in incoming file names)."""
    return partition_key[:4] + partition_key[5:7] + partition_key[8:10] + "T" + partition_key[11:13]


def files_for_partition(data_dir, kind: str, partition_key: str, relpaths: list[str]) -> tuple[list[files.IncomingFile], list[str]]:
    """The files a run ingests: the given identities (validated), or every file of the partition's hour.

    Returns (files, rejected identities). A rejected identity is not one of ours, not of this kind or hour,
    or no longer there; it is reported, never opened.
    """
    hour = partition_hour(partition_key)
    if not relpaths:
        return sorted((f for f in files.list_incoming(data_dir, [kind]) if f.hour == hour), key=lambda f: f.key), []
    chosen, rejected = [], []
    for rel in dict.fromkeys(relpaths):
        f = files.resolve_relpath(data_dir, rel)
        if f is None or f.kind != kind or f.hour != hour:
            rejected.append(rel)
        else:
            chosen.append(f)
    return sorted(chosen, key=lambda f: f.key), rejected


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


def read_incoming(paths: Iterable[files.IncomingFile], schema: pa.Schema) -> pa.Table:
    tables = []
    for f in paths:
        table = pq.read_table(f.path)
        table = table.append_column("incoming_file", pa.array([f.relpath] * table.num_rows, pa.string()))
        tables.append(table)
    if not tables:
        if "incoming_file" in schema.names:  # a lake schema (TRADES_SCHEMA) already records the file
            return schema.empty_table()
        return schema.append(pa.field("incoming_file", pa.string())).empty_table()
    return pa.concat_tables(tables, promote_options="default")


def _markets_table(markets: pa.Table | None) -> pa.Table:
    columns = ["condition_id", "yes_token_id", "no_token_id", "yes_outcome", "no_outcome"]
    if markets is None:
        return pa.table({c: pa.array([], pa.string()) for c in columns})
    return markets.select(columns)


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
    ``markets_current`` when the row was first ingested, and is kept as it was on later merges. Returns the table in ``TRADES_SCHEMA`` and counts for metadata.
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
                   COALESCE(u.outcome_index, CASE WHEN u.asset_id = m.yes_token_id THEN 0
                                                  WHEN u.asset_id = m.no_token_id THEN 1 END) AS outcome_index,
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
    already there (a re-run), True when it was added.
    """
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / source.name
    if target.exists():
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
