"""The lake tables the ML layer reads, as DuckDB relations that exist even before any file was written.

Each source names only the columns the ML code uses, of one lake table, typed as the table registry declares
them (`lib/tables.py`), so a table that has no files yet (the trades of a platform without the recorder, say)
reads as an empty relation of the right shape, and a table whose files lack a column added later reads it as
NULL (`union_by_name`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from polymarket_assets.lib import tables
from polymarket_assets.lib.sql import sql_list, sql_text
from polymarket_assets.lib.warehouse import duckdb_type


@dataclass(frozen=True)
class Source:
    """These columns of lake table `table`; their types and the table's partitioning come from the registry."""

    table: str
    names: tuple[str, ...]

    @property
    def columns(self) -> tuple[tuple[str, str], ...]:
        """(name, DuckDB type) of each column."""
        schema = tables.table(self.table).schema
        return tuple((name, duckdb_type(schema.field(name).type)) for name in self.names)

    @property
    def hive(self) -> bool:
        return bool(tables.table(self.table).partitioning)


MARKET_STATES = Source(
    tables.MARKET_STATES.name,
    (
        "observed_at",
        "condition_id",
        "yes_token_id",
        "no_token_id",
        "end_date",
        "created_at",
        "neg_risk",
        "neg_risk_market_id",
        "event_id",
        "category",
        "closed_time",
    ),
)

# Each market's fee schedule as discovery observed it (`lib/fees.FEE_FIELDS`), for the backtest and predictions.
_FEE_COLUMNS = ("fees_enabled", "fee_rate", "fee_exponent", "fee_taker_only", "fee_rebate_rate")
MARKET_FEES = Source(tables.MARKET_STATES.name, ("observed_at", "condition_id", *_FEE_COLUMNS))
CURRENT_FEES = Source(tables.MARKETS_CURRENT.name, ("condition_id", *_FEE_COLUMNS))

MARKETS_CURRENT = Source(
    tables.MARKETS_CURRENT.name,
    (
        "condition_id",
        "end_date",
        "neg_risk",
        "neg_risk_market_id",
        "event_id",
        "discovery_status",
        "question",
    ),
)

TRADES = Source(
    tables.TRADES.name,
    ("asset_id", "condition_id", "side", "price", "size", "notional_usd", "exchange_ts", "received_at"),
)

ORDERBOOKS = Source(tables.ORDERBOOKS.name, ("condition_id", "token_id", "captured_at", "bids", "asks"))

RESOLUTIONS = Source(tables.RESOLUTIONS.name, ("condition_id", "outcome", "resolved_at", "checked_at"))

# The `features` lake table (written by the `features` asset), one row per (market, instant).
FEATURES = Source(tables.FEATURES.name, tuple(tables.FEATURES.schema.names))


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
    hive = "true" if source.hive else "false"
    scan = f"read_parquet({sql_list(files)}, hive_partitioning={hive}, union_by_name=true)"
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
    con.execute(f"SET memory_limit = {sql_text(memory_limit)}")
    con.execute(f"SET threads = {int(threads)}")
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = false")  # a bar drawn into run logs is noise
    # Row estimates behind filters are often tiny; a "small" ASOF side planned as a nested loop turns the
    # feature query quadratic. Always use the sort-merge ASOF join.
    con.execute("SET asof_loop_join_threshold = 0")
    if temp_directory:
        con.execute(f"SET temp_directory = {sql_text(temp_directory)}")
    return con
