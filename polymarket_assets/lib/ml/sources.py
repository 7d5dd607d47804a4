"""The lake tables the ML layer reads, as DuckDB relations that exist even before any file was written.

Each source names only the columns the ML code uses, with their types, so a table that has no files yet (the
trades of a platform without the recorder, say) reads as an empty relation of the right shape, and a table
whose files lack a column added later reads it as NULL (`union_by_name`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import duckdb


@dataclass(frozen=True)
class Source:
    table: str
    columns: tuple[tuple[str, str], ...]  # (name, DuckDB type)
    hive: bool = True

    def names(self) -> list[str]:
        return [name for name, _ in self.columns]


TS = "TIMESTAMPTZ"

SNAPSHOTS = Source(
    "snapshots",
    (
        ("condition_id", "VARCHAR"),
        ("tier", "VARCHAR"),
        ("slot_ts", TS),
        ("captured_at", TS),
        ("yes_token_id", "VARCHAR"),
        ("best_bid", "DOUBLE"),
        ("best_ask", "DOUBLE"),
        ("mid", "DOUBLE"),
        ("spread", "DOUBLE"),
        ("last_trade_price", "DOUBLE"),
        ("bid_depth", "DOUBLE"),
        ("ask_depth", "DOUBLE"),
        ("bid_depth_1c", "DOUBLE"),
        ("ask_depth_1c", "DOUBLE"),
        ("bid_depth_5c", "DOUBLE"),
        ("ask_depth_5c", "DOUBLE"),
        ("imbalance", "DOUBLE"),
        ("bid_wall_size", "DOUBLE"),
        ("bid_wall_distance", "DOUBLE"),
        ("ask_wall_size", "DOUBLE"),
        ("ask_wall_distance", "DOUBLE"),
        ("volume_24h", "DOUBLE"),
        ("liquidity", "DOUBLE"),
        ("one_day_price_change", "DOUBLE"),
        ("one_week_price_change", "DOUBLE"),
    ),
)

MARKET_STATES = Source(
    "market_states",
    (
        ("observed_at", TS),
        ("condition_id", "VARCHAR"),
        ("yes_token_id", "VARCHAR"),
        ("no_token_id", "VARCHAR"),
        ("end_date", TS),
        ("created_at", TS),
        ("neg_risk", "BOOLEAN"),
        ("neg_risk_market_id", "VARCHAR"),
        ("event_id", "VARCHAR"),
        ("category", "VARCHAR"),
        ("closed_time", TS),
    ),
)

# Each market's fee schedule as discovery observed it (`lib/fees.FEE_FIELDS`), for the backtest and predictions.
_FEE_COLUMNS = (
    ("fees_enabled", "BOOLEAN"),
    ("fee_rate", "DOUBLE"),
    ("fee_exponent", "DOUBLE"),
    ("fee_taker_only", "BOOLEAN"),
    ("fee_rebate_rate", "DOUBLE"),
)
MARKET_FEES = Source("market_states", (("observed_at", TS), ("condition_id", "VARCHAR"), *_FEE_COLUMNS))
CURRENT_FEES = Source("markets_current", (("condition_id", "VARCHAR"), *_FEE_COLUMNS), hive=False)

MARKETS_CURRENT = Source(
    "markets_current",
    (
        ("condition_id", "VARCHAR"),
        ("end_date", TS),
        ("neg_risk", "BOOLEAN"),
        ("neg_risk_market_id", "VARCHAR"),
        ("event_id", "VARCHAR"),
        ("discovery_status", "VARCHAR"),
        ("question", "VARCHAR"),
    ),
    hive=False,
)

TRADES = Source(
    "trades",
    (
        ("asset_id", "VARCHAR"),
        ("condition_id", "VARCHAR"),
        ("side", "VARCHAR"),
        ("price", "DOUBLE"),
        ("size", "DOUBLE"),
        ("notional_usd", "DOUBLE"),
        ("exchange_ts", TS),
        ("received_at", TS),
    ),
)

BOOK_LEVELS = "STRUCT(price DOUBLE, size DOUBLE)[]"
ORDERBOOKS = Source(
    "orderbooks",
    (
        ("condition_id", "VARCHAR"),
        ("token_id", "VARCHAR"),
        ("captured_at", TS),
        ("bids", BOOK_LEVELS),
        ("asks", BOOK_LEVELS),
    ),
)

RESOLUTIONS = Source(
    "resolutions",
    (("condition_id", "VARCHAR"), ("outcome", "VARCHAR"), ("resolved_at", TS), ("checked_at", TS)),
)

FEATURES_TABLE = "features"


def has_files(lake_root: Path, table: str) -> bool:
    return bool(table_files(lake_root, table))


def table_files(lake_root: str | os.PathLike, table: str, dates: tuple | None = None) -> list[str]:
    """The table's Parquet files, sorted: the exact set (and scan order) of a relation built from them.
    Hidden names are files still being written. With `dates` (first, last: dates or datetimes), files in a
    hive `date=` partition outside that range are left out."""
    directory = Path(lake_root) / table
    if not directory.exists():
        return []
    first, last = (None, None) if dates is None else (str(d)[:10] for d in dates)
    files = []
    for path in directory.rglob("*.parquet"):
        if path.name.startswith("."):
            continue
        if first is not None:
            day = next((p[5:] for p in path.relative_to(directory).parts if p.startswith("date=")), None)
            if day is not None and not first <= day <= last:
                continue
        files.append(str(path))
    return sorted(files)


def relation_sql(lake_root: str | os.PathLike, source: Source, files: list[str] | None = None) -> str:
    """A parenthesised SELECT of the source's columns over its Parquet files (all of them, or exactly
    `files`), or an empty typed relation when there are none."""
    files = table_files(lake_root, source.table) if files is None else files
    if not files:
        cols = ", ".join(f'CAST(NULL AS {typ}) AS "{name}"' for name, typ in source.columns)
        return f"(SELECT {cols} WHERE false)"
    paths = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    hive = "true" if source.hive else "false"
    scan = f"read_parquet([{paths}], hive_partitioning={hive}, union_by_name=true)"
    present = _columns_of(scan)
    cols = ", ".join(
        f'CAST("{name}" AS {typ}) AS "{name}"' if name in present else f'CAST(NULL AS {typ}) AS "{name}"'
        for name, typ in source.columns
    )
    return f"(SELECT {cols} FROM {scan})"


def _columns_of(scan: str) -> set[str]:
    """Column names of a scan (Parquet footers only), so a column no file has yet reads as NULL."""
    con = duckdb.connect()
    try:
        return {row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()}
    finally:
        con.close()


def connect(
    memory_limit: str = "2GB", threads: int = 2, temp_directory: str | None = None
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with bounded memory (it spills to `temp_directory` beyond the limit), in UTC."""
    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute(f"SET threads = {int(threads)}")
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = false")  # a bar drawn into run logs is noise
    # Row estimates behind filters are often tiny; a "small" ASOF side planned as a nested loop turns the
    # feature query quadratic. Always use the sort-merge ASOF join.
    con.execute("SET asof_loop_join_threshold = 0")
    if temp_directory:
        con.execute(f"SET temp_directory = '{temp_directory}'")
    return con


def features_source() -> Source:
    """The `features` lake table (written by the `features` asset), one row per (market, instant)."""
    from polymarket_assets.lib.ml.features import FEATURE_COLUMNS, ID_TYPES

    return Source(
        FEATURES_TABLE, tuple(ID_TYPES.items()) + tuple((name, "DOUBLE") for name in FEATURE_COLUMNS)
    )
