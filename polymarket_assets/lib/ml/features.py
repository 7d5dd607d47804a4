"""Point-in-time features: one row per (market, snapshot instant), built from the lake with DuckDB.

A row's instant `ts` is the snapshot's `captured_at`, the moment its prices were observed. Every value in the
row uses only data observed at or before `ts`:

- market metadata (end date, negRisk, event, category) comes from `market_states` **as of** `ts` (the last
  discovery with `observed_at <= ts`), never from `markets_current`, which already knows the future;
- lagged prices for momentum are the last snapshot at or before `ts - h` (and no staler than `ts - 2h`);
- a trade counts from the moment it was observed, `avail_ts = max(exchange_ts, received_at)`: a trade the
  Data API backfilled hours later is not part of the features of the instants before it arrived. Which
  token is YES comes from the market's first recorded state (observed before the trade). Trade and whale
  flow over (ts - window, ts] are differences of per-market running sums, kept in integer micro-units so
  the figures are exact and the same whatever else the lake holds;
- the negRisk consistency feature sums the latest YES price (at or before `ts`, at most 6 h old) of every
  market that belonged to the same negRisk event as of its own snapshot;
- a slot recorded twice (a retried run) counts once, as first observed.

Every lookback is bounded (48 h of snapshots, 7 days of trades), and the lake is read from a fixed distance
before the output window, so a row's features do not depend on which window it was built in.

How it runs: DuckDB scans the lake into narrow inputs (the snapshot timeline, market states, trades with
their YES/NO mapping); the as-of lookups run in numpy on sorted (market, time) keys (`asof.py`), one binary
search per lookback for all rows at once; DuckDB then writes the rows, joining the lookups back onto a second
scan of the same snapshot files by position (`POSITIONAL JOIN`), with a guard that fails the build if the two
scans ever disagree. The output runs in passes over chunks of files, two at a time on their own cursors: one
pass keeps about one core busy. Measured on 10 M snapshot rows in `benchmarks/ml_bench.py`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from polymarket_assets.lib import tables
from polymarket_assets.lib.ml.asof import MISSING, KeySpace, expand, last_at_or_before, prefix_sums, take
from polymarket_assets.lib.ml.sources import MARKET_STATES, TRADES, Source, relation_sql, table_files
from polymarket_assets.lib.schemas import FEATURE_COLUMNS, FEATURE_SCHEMA, WHALE_FLOW_COLUMNS, WHALE_WINDOWS
from polymarket_assets.lib.sql import sql_text
from polymarket_assets.lib.whale_tiers import DEFAULT_THRESHOLDS

# The lowest whale tier: a whale is classified on USD notional, never shares.
WHALE_USD = min(DEFAULT_THRESHOLDS)
SNAPSHOT_LOOKBACK = timedelta(hours=49)  # 24 h momentum may look back to ts - 48 h
TRADE_LOOKBACK = timedelta(days=7, hours=1)
EVENT_STALENESS_H = 6
WHALE_CAP_H = 168.0  # "hours since the last whale" when there was none in the last 7 days
MICRO = 1_000_000  # USD and share sums are kept in integer millionths
HOUR_US = 3_600_000_000


def window_params(start: datetime, end: datetime) -> dict:
    return {
        "start": start,
        "end": end,
        "read_lo": start - SNAPSHOT_LOOKBACK,
        "trade_lo": start - TRADE_LOOKBACK,
    }


def _snapshot_scan(lake_root: str | os.PathLike, files: list[str], since: str) -> str:
    """Snapshot rows with a price, captured in [$<since>, $end), in file order."""
    return (
        f"(SELECT * FROM {relation_sql(lake_root, SNAPSHOTS, files)} "
        f"WHERE captured_at >= ${since} AND captured_at < $end AND coalesce(mid, last_trade_price) IS NOT NULL)"
    )


def _states_sql(market_states: str) -> str:
    """One state per (market, observation), discovered before $end, keyed by the market's hash."""
    return f"""
        SELECT hash(condition_id) AS k, epoch_us(observed_at) AS observed_us, observed_at, end_date, created_at,
               yes_token_id, no_token_id, coalesce(neg_risk, false) AS neg_risk,
               CASE WHEN coalesce(neg_risk, false) THEN coalesce(neg_risk_market_id, event_id) END AS event_key,
               category
        FROM {market_states}
        WHERE observed_at < $end AND condition_id IS NOT NULL
        QUALIFY row_number() OVER (PARTITION BY condition_id, observed_at ORDER BY end_date NULLS LAST) = 1
    """


def _trades_sql(market_states: str, trades: str, whale_usd: float) -> str:
    """Trades observed in [$trade_lo, $end) in YES terms, one row each, amounts in integer micro-units."""
    whale = float(whale_usd)
    return f"""
        WITH states AS ({_states_sql(market_states)}),
        -- Which token is YES comes from the market's first recorded state, which must precede the trade's
        -- observation (token ids never change).
        first_states AS (
            SELECT k, min(observed_at) AS first_at, arg_min(yes_token_id, observed_at) AS yes_token_id,
                   arg_min(no_token_id, observed_at) AS no_token_id
            FROM states GROUP BY k
        ),
        trade_rows AS (
            SELECT hash(t.condition_id) AS k, t.asset_id, upper(t.side) = 'BUY' AS buy, t.price, t.size,
                   coalesce(t.notional_usd, t.size * t.price) AS notional,
                   greatest(t.exchange_ts, coalesce(t.received_at, t.exchange_ts)) AS avail_ts
            FROM {trades} t
            WHERE t.exchange_ts IS NOT NULL AND t.price IS NOT NULL AND t.size IS NOT NULL
              AND greatest(t.exchange_ts, coalesce(t.received_at, t.exchange_ts)) >= $trade_lo
              AND greatest(t.exchange_ts, coalesce(t.received_at, t.exchange_ts)) < $end
        ),
        yes_terms AS (
            SELECT t.k, epoch_us(t.avail_ts) AS t_us, t.price, t.notional, t.size,
                   t.asset_id = st.yes_token_id AS is_yes, (t.asset_id = st.yes_token_id) = t.buy AS towards_yes,
                   t.notional >= {whale} AS whale
            FROM trade_rows t JOIN first_states st ON t.k = st.k
            WHERE t.avail_ts >= st.first_at AND (t.asset_id = st.yes_token_id OR t.asset_id = st.no_token_id)
        )
        SELECT k, t_us,
               CAST(CASE WHEN towards_yes THEN round(notional * {MICRO}) ELSE 0 END AS BIGINT) AS buy,
               CAST(CASE WHEN towards_yes THEN 0 ELSE round(notional * {MICRO}) END AS BIGINT) AS sell,
               CAST(round(CASE WHEN is_yes THEN price ELSE 1 - price END * size * {MICRO}) AS BIGINT) AS pxs,
               CAST(round(size * {MICRO}) AS BIGINT) AS size,
               CAST(whale AS BIGINT) AS whales,
               CAST(CASE WHEN whale THEN (CASE WHEN towards_yes THEN 1 ELSE -1 END) * round(notional * {MICRO})
                         ELSE 0 END AS BIGINT) AS whale_net,
               CAST(CASE WHEN whale THEN (CASE WHEN towards_yes THEN 1 ELSE -1 END) ELSE 0 END AS BIGINT)
                   AS whale_dir
        FROM yes_terms
    """


MOMENTUM = ((1, 2), (6, 12), (24, 48))  # (lag h, the lagged price may be at most this old, h)
FLOW_WINDOWS_H = {"1h": 1, "6h": 6, "24h": 24, "7d": 168}  # trade-flow windows (ts - window, ts]
assert set(WHALE_WINDOWS) <= set(FLOW_WINDOWS_H)
LOOKUP_COLUMNS = [  # what the as-of pass hands to the output query, besides the state columns
    *(f"momentum_{lag_h}h" for lag_h, _ in MOMENTUM),
    "trade_count_1h",
    "buy_usd_1h",
    "sell_usd_1h",
    "vwap_1h",
    *WHALE_FLOW_COLUMNS,
    "hours_since_whale",
    "event_yes_sum",
    "event_n_markets",
]
STATE_COLUMNS = ["end_date", "created_at", "neg_risk", "event_key", "category"]
# Snapshot files per output pass, and passes run at once: bound the memory of the output queries (10 M rows:
# 64 MB x 2 gives 48 s and 3.4 GB peak on 2 cores; 192 MB x 1 gave 78 s, 192 MB x 2 went past 4.5 GB).
CHUNK_BYTES = 64 * 2**20
PASSES_IN_FLIGHT = 2
T = TypeVar("T")


class _AsOf:
    """The narrow inputs sorted by (market, time), answering the as-of lookups for any set of snapshot rows.

    `timeline` holds the snapshot scan's k, ts, slot and price in scan order (from `read_lo`); `states` the
    market states (`_states_sql`); `trades` one row per trade (`_trades_sql`). Building it sorts everything
    once; `lookups` then costs a few binary searches per row, so the output can be produced in chunks with
    only one chunk's columns in memory.
    """

    def __init__(self, timeline: dict, states: pa.Table, trades: dict, end_us: int, base_us: int) -> None:
        self.k, self.ts = timeline["k"], timeline["ts"]
        slot, price = timeline["slot"], timeline["price"]
        markets = np.unique(np.concatenate([self.k, states.column("k").to_numpy(), trades["k"]]))
        self.n_markets = len(markets)
        self.space = space = KeySpace.covering(len(markets), base_us, end_us)
        market = np.searchsorted(markets, self.k)

        # the first observation of each (market, slot); the timeline is those rows ordered by (market, time)
        order = np.lexsort((self.ts, slot, market))
        first = np.ones(order.size, dtype=bool)
        first[1:] = (market[order][1:] != market[order][:-1]) | (slot[order][1:] != slot[order][:-1])
        kept = order[first]
        del order, first
        kept = kept[np.lexsort((self.ts[kept], market[kept]))]
        self.t_market, self.t_ts, self.t_price = market[kept], self.ts[kept], price[kept]
        self.t_key = space.keys(self.t_market, self.t_ts)
        self.t_of_scan = np.full(self.ts.size, MISSING, dtype=np.int64)
        self.t_of_scan[kept] = np.arange(kept.size)
        del market, kept

        # market states in (market, observation) order: a row's state is the last one at or before it
        s_market = np.searchsorted(markets, states.column("k").to_numpy())
        s_observed = states.column("observed_us").to_numpy()
        self.s_order = np.lexsort((s_observed, s_market))
        s_market, s_key = s_market[self.s_order], space.keys(s_market[self.s_order], s_observed[self.s_order])
        events = pc.dictionary_encode(states.column("event_key")).combine_chunks().indices
        s_event = pc.fill_null(events, MISSING).to_numpy(zero_copy_only=False).astype(np.int64)[self.s_order]
        self.t_state = last_at_or_before(s_key, s_market, self.t_key, self.t_market)
        self.t_event = take(s_event, self.t_state, fill=MISSING)
        self.states = {name: _encoded(states.column(name)) for name in STATE_COLUMNS}

        # trades in (market, time) order, as running sums: a window is the difference of two of them
        r_key = space.keys(np.searchsorted(markets, trades.pop("k")), trades.pop("t_us"))
        r_order = np.argsort(r_key, kind="stable")
        self.r_key = r_key[r_order]
        del r_key
        self.count = prefix_sums(np.ones(self.r_key.size, dtype=np.int64))
        self.sums = {name: prefix_sums(trades.pop(name)[r_order]) for name in list(trades)}
        whale_keys = np.where(np.diff(self.sums["whales"]) > 0, self.r_key, -1)
        self.last_whale = np.maximum.accumulate(np.concatenate([[-1], whale_keys]))

        # negRisk siblings: every (event, market) pair the timeline holds
        in_event = self.t_event != MISSING
        pairs = np.unique(self.t_event[in_event] * len(markets) + self.t_market[in_event])
        self.sibling_event, self.sibling_market = pairs // len(markets), pairs % len(markets)

    def lookups(self, rows: np.ndarray) -> pa.Table:
        """One row per given scan row, in that order: `keep` (the first observation of its slot: the rows
        that are output), the state columns as of the row, the lookup columns (null where unknown), and the
        market key and instant, which the output query checks against its own scan."""
        space, t_key, t_market, t_ts, t_price = self.space, self.t_key, self.t_market, self.t_ts, self.t_price
        t_index = self.t_of_scan[rows]
        keep = t_index != MISSING
        # probes in timeline order: the binary searches then walk their arrays forwards
        sorting = np.argsort(t_index[keep], kind="stable")
        probe = t_index[keep][sorting]
        position = np.flatnonzero(keep)[sorting]
        p_market, p_ts, p_price, p_event = t_market[probe], t_ts[probe], t_price[probe], self.t_event[probe]
        columns: dict[str, pa.Array] = {}

        def put(name: str, values: np.ndarray, known: np.ndarray | None = None) -> None:
            column = np.full(rows.size, np.nan)
            column[position] = values
            missing = np.ones(rows.size, dtype=bool)
            missing[position] = False if known is None else ~known
            columns[name] = pa.array(column, mask=missing)

        for lag_h, stale_h in MOMENTUM:
            j = last_at_or_before(t_key, t_market, space.keys(p_market, p_ts - lag_h * HOUR_US), p_market)
            fresh = take(t_ts, j, fill=np.iinfo(np.int64).min) >= p_ts - stale_h * HOUR_US
            put(f"momentum_{lag_h}h", p_price - take(t_price, j), fresh)

        at = {
            window: np.searchsorted(self.r_key, space.keys(p_market, p_ts - hours * HOUR_US), side="right")
            for window, hours in {"now": 0, **FLOW_WINDOWS_H}.items()
        }

        def flow(prefix: np.ndarray, window: str) -> np.ndarray:
            return (prefix[at["now"]] - prefix[at[window]]).astype(np.float64)

        sums = self.sums
        put("trade_count_1h", flow(self.count, "1h"))
        put("buy_usd_1h", flow(sums["buy"], "1h") / MICRO)
        put("sell_usd_1h", flow(sums["sell"], "1h") / MICRO)
        size_1h = flow(sums["size"], "1h")
        with np.errstate(invalid="ignore", divide="ignore"):
            put("vwap_1h", np.where(size_1h > 0, flow(sums["pxs"], "1h") / size_1h, p_price))
        for window in WHALE_WINDOWS:
            put(f"whale_count_{window}", flow(sums["whales"], window))
            put(f"whale_net_usd_{window}", flow(sums["whale_net"], window) / MICRO)
            put(f"whale_net_count_{window}", flow(sums["whale_dir"], window))
        # the last whale at or before ts: the running maximum of whale keys, if it is this market's
        last = self.last_whale[at["now"]]
        mine = (last >= 0) & ((last >> space.bits) == p_market)
        whale_us = (last & ((1 << space.bits) - 1)) + space.base
        put(
            "hours_since_whale",
            np.where(mine, np.minimum(WHALE_CAP_H, (p_ts - whale_us) / HOUR_US), WHALE_CAP_H),
        )

        # negRisk: every market seen in the event, looked up as of ts; it counts if, as of its own latest
        # snapshot, it was in the same event and that snapshot is recent enough
        row, sibling = expand(p_event, self.sibling_event, self.sibling_market)
        j = last_at_or_before(t_key, t_market, space.keys(sibling, p_ts[row]), sibling)
        ok = j != MISSING
        ok[ok] = (self.t_event[j[ok]] == p_event[row[ok]]) & (
            t_ts[j[ok]] >= p_ts[row[ok]] - EVENT_STALENESS_H * HOUR_US
        )
        total = np.bincount(row[ok], weights=t_price[j[ok]], minlength=probe.size)
        members = np.bincount(row[ok], minlength=probe.size).astype(np.float64)
        alone = p_event == MISSING
        put("event_yes_sum", np.where(alone, p_price, total))
        put("event_n_markets", np.where(alone, 1.0, members))

        state = np.full(rows.size, MISSING, dtype=np.int64)
        state[position] = take(self.s_order, self.t_state[probe], fill=MISSING)
        index = pa.array(state, mask=state == MISSING)
        return pa.table(
            {
                "k": self.k[rows],
                "ts_us": self.ts[rows],
                "keep": keep,
                **{name: column.take(index) for name, column in self.states.items()},
                **{name: columns[name] for name in LOOKUP_COLUMNS},
            }
        )


def _encoded(column: pa.ChunkedArray) -> pa.Array:
    """Strings as a dictionary (one copy of each event id or category, not one per row)."""
    column = column.combine_chunks()
    return pc.dictionary_encode(column) if pa.types.is_string(column.type) else column


# How the output query computes each column of `FEATURE_SCHEMA` from the snapshot scan `r` and the lookups `f`.
# A feature named here is computed; one in `LOOKUP_COLUMNS` is looked up; any other is the snapshot's column.
_COMPUTED = {
    "condition_id": "r.condition_id",
    "ts": "r.captured_at",
    "slot_ts": "r.slot_ts",
    "tier": "r.tier",
    "end_date": "f.end_date",
    "event_key": "CAST(f.event_key AS VARCHAR)",
    "category": "CAST(f.category AS VARCHAR)",
    "yes_token_id": "r.yes_token_id",
    "price": "coalesce(r.mid, r.last_trade_price)",
    "net_flow_usd_1h": "f.buy_usd_1h - f.sell_usd_1h",
    "hours_to_close": "(epoch(f.end_date) - epoch(r.captured_at)) / 3600.0",
    # from the epoch (UTC by definition): calendar functions on TIMESTAMPTZ go through ICU and cost far more
    "hour_of_day": "CAST(floor(epoch(r.captured_at) / 3600) % 24 AS DOUBLE)",
    "day_of_week": "CAST((floor(epoch(r.captured_at) / 86400) + 3) % 7 + 1 AS DOUBLE)",
    "market_age_h": "(epoch(r.captured_at) - epoch(f.created_at)) / 3600.0",
    "neg_risk": "CAST(CASE WHEN coalesce(f.neg_risk, false) THEN 1 ELSE 0 END AS DOUBLE)",
}
SNAPSHOT_FEATURES = [name for name in FEATURE_COLUMNS if name not in _COMPUTED and name not in LOOKUP_COLUMNS]
# The snapshot columns the features read: the row's identity and the features taken as they are (which include
# the inputs of the computed ones).
SNAPSHOTS = Source(
    tables.SNAPSHOTS.name,
    ("condition_id", "tier", "slot_ts", "captured_at", "yes_token_id", *SNAPSHOT_FEATURES),
)


def _column_sql(name: str) -> str:
    if name in _COMPUTED:
        return _COMPUTED[name]
    return f"f.{name}" if name in LOOKUP_COLUMNS else f"r.{name}"


def _output_sql(scan: str) -> str:
    """The feature rows: the snapshot scan joined by position to the registered `lookups` table."""
    columns = ",\n    ".join(f'{_column_sql(name)} AS "{name}"' for name in FEATURE_SCHEMA.names)
    return f"""
SELECT
    {columns}
FROM {scan} r POSITIONAL JOIN lookups f
-- both sides are the same files in the same order; if they ever disagree, fail rather than misalign
WHERE CASE WHEN f.k IS DISTINCT FROM hash(r.condition_id) OR f.ts_us IS DISTINCT FROM epoch_us(r.captured_at)
           THEN error('feature lookups and snapshot scan are misaligned (the lake changed during the build)')
           ELSE f.keep END
"""


def check_market_keys(
    con: duckdb.DuckDBPyConnection, market_states: str, snapshots: str, params: dict
) -> None:
    """Markets are keyed by a 64-bit hash of their id; refuse to run if two ids share one."""
    ids, hashes = con.execute(
        f"""
        WITH ids AS (
            SELECT condition_id FROM {market_states} WHERE observed_at < $end
            UNION SELECT condition_id FROM {snapshots}
        )
        SELECT count(*), count(DISTINCT hash(condition_id)) FROM ids
        """,
        {"end": params["end"], "read_lo": params["read_lo"]},
    ).fetchall()[0]
    if ids != hashes:
        raise RuntimeError(f"{ids - hashes} market id hash collisions among {ids} markets")


def _epoch_us(moment: datetime) -> int:
    return round(moment.timestamp() * 1_000_000)


def _chunks(files: list[str]) -> list[list[str]]:
    """Consecutive runs of files of about CHUNK_BYTES each (at least one file per run)."""
    chunks: list[list[str]] = []
    size = CHUNK_BYTES
    for path in files:
        if size >= CHUNK_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(path)
        size += os.path.getsize(path)
    return chunks


@dataclass(frozen=True)
class _Pass:
    """One output query: `sql` reads a chunk of snapshot files joined to `lookups`, the as-of answers for
    `rows` (positions in the snapshot scan); parameters $start, $end."""

    sql: str
    rows: np.ndarray


def _plan(
    con: duckdb.DuckDBPyConnection,
    lake_root: str | os.PathLike,
    start: datetime,
    end: datetime,
    whale_usd: float,
) -> tuple[_AsOf, list[_Pass]]:
    """Run the input scans and the as-of pass; return it with the output passes (at least one, so an empty
    window still gives a typed, empty result)."""
    params = window_params(start, end)
    files = table_files(lake_root, SNAPSHOTS.table, dates=(params["read_lo"] - timedelta(days=1), end))
    chunks = _chunks(files)
    market_states = relation_sql(lake_root, MARKET_STATES)
    check_market_keys(con, market_states, _snapshot_scan(lake_root, files, "read_lo"), params)
    parts, sizes = [], []
    for chunk in chunks:
        part = con.execute(
            f"""SELECT hash(condition_id) AS k, epoch_us(captured_at) AS ts,
                       epoch_us(coalesce(slot_ts, captured_at)) AS slot, coalesce(mid, last_trade_price) AS price
                FROM {_snapshot_scan(lake_root, chunk, "read_lo")}""",
            {"read_lo": params["read_lo"], "end": params["end"]},
        ).fetchnumpy()
        parts.append({name: np.asarray(values) for name, values in part.items()})
        sizes.append(len(parts[-1]["ts"]))
    names = ("k", "ts", "slot", "price")
    dtypes = (np.uint64, np.int64, np.int64, np.float64)
    timeline = {
        name: np.concatenate([p[name] for p in parts] + [np.empty(0, dtype=dtype)]).astype(dtype, copy=False)
        for name, dtype in zip(names, dtypes)
    }
    del parts
    # execute, not sql(): a parameterised `sql()` relation is materialised row by row (10x slower here)
    states = con.execute(_states_sql(market_states), {"end": params["end"]}).to_arrow_table()
    trades = con.execute(
        _trades_sql(market_states, relation_sql(lake_root, TRADES), whale_usd),
        {"trade_lo": params["trade_lo"], "end": params["end"]},
    ).fetchnumpy()
    trades = {name: np.asarray(values) for name, values in trades.items()}
    asof = _AsOf(timeline, states, trades, _epoch_us(end), _epoch_us(params["trade_lo"]))
    del timeline, trades, states
    start_us, offset, selected = _epoch_us(start), 0, []
    for chunk, size in zip(chunks, sizes):
        rows = offset + np.flatnonzero(asof.ts[offset : offset + size] >= start_us)
        if rows.size:
            selected.append((chunk, rows))
        offset += size
    return asof, [
        _Pass(_output_sql(_snapshot_scan(lake_root, chunk, "start")), rows)
        for chunk, rows in selected or [([], np.empty(0, np.int64))]
    ]


def _run_passes(
    con: duckdb.DuckDBPyConnection,
    asof: _AsOf,
    passes: list[_Pass],
    run: Callable[[duckdb.DuckDBPyConnection, str, int], T],
) -> list[T]:
    """`run(cursor, sql, i)` for every pass, PASSES_IN_FLIGHT at a time, each on its own cursor with its
    lookups registered as `lookups`; results in pass order. A writing pass keeps about one core busy, so
    two in flight use both cores of a small machine while bounding memory to two chunks' lookups. The
    cursors share the database's global `preserve_insertion_order`, which the caller's `_insertion_order`
    sets."""

    def one(i: int, step: _Pass) -> T:
        cursor = con.cursor()
        try:
            cursor.register("lookups", asof.lookups(step.rows))
            return run(cursor, step.sql, i)
        finally:
            cursor.close()

    pool = ThreadPoolExecutor(max_workers=PASSES_IN_FLIGHT, thread_name_prefix="features-pass")
    try:
        futures = [pool.submit(one, i, step) for i, step in enumerate(passes)]
        return [future.result() for future in futures]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # after a failure, start no further pass


@contextmanager
def _insertion_order(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Both scans must yield the files' rows in the same order: DuckDB keeps it only when told to."""
    previous = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()[0]
    con.execute("SET preserve_insertion_order = true")
    try:
        yield
    finally:
        con.execute(f"SET preserve_insertion_order = {bool(previous)}")


def build_features(
    con: duckdb.DuckDBPyConnection,
    lake_root: str | os.PathLike,
    start: datetime,
    end: datetime,
    whale_usd: float = WHALE_USD,
) -> pa.Table:
    """Feature rows with `start <= ts < end`, ordered by (condition_id, ts), as an Arrow table."""
    params = {"start": start, "end": end}
    with _insertion_order(con):
        asof, passes = _plan(con, lake_root, start, end, whale_usd)
        # No ORDER BY in the query: a sorted result lets DuckDB drop the scan order the join needs.
        parts = _run_passes(
            con, asof, passes, lambda cursor, sql, _: cursor.execute(sql, params).to_arrow_table()
        )
    table = pa.concat_tables(parts)
    return table.sort_by([("condition_id", "ascending"), ("ts", "ascending")])


def copy_features(
    con: duckdb.DuckDBPyConnection,
    lake_root: str | os.PathLike,
    start: datetime,
    end: datetime,
    path_for: Callable[[int], str],
    whale_usd: float = WHALE_USD,
) -> list[tuple[str, int]]:
    """Write the feature rows of a window into Parquet files, one per chunk of snapshot files (`path_for(i)`
    names the i-th); returns each file with its row count."""
    params = {"start": start, "end": end}

    def write(cursor: duckdb.DuckDBPyConnection, sql: str, i: int) -> tuple[str, int]:
        path = path_for(i)
        cursor.execute(
            f"COPY ({sql}) TO {sql_text(path)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)",
            params,
        )
        return path, cursor.execute(f"SELECT count(*) FROM read_parquet({sql_text(path)})").fetchall()[0][0]

    with _insertion_order(con):
        asof, passes = _plan(con, lake_root, start, end, whale_usd)
        return _run_passes(con, asof, passes, write)
