"""Whale classification on USD notional, and the whale events of a window with their price impact.

The old system classified by share count, so a $40 trade at 2¢ (2,000 shares) was a "whale". Here the only
input is ``notional_usd = size × price``. Impact is measured on the traded token's mid from the recorded books
(``book_updates``: the last row of each exchange timestamp), with the last trade price as a second reading:

    impact_h = direction × (mid at t + h − mid just before t),  direction = +1 for a BUY, −1 for a SELL

so a positive impact means the price kept moving the way the whale traded.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from polymarket_assets.lib import tables
from polymarket_assets.lib.parquet_store import local_data_dir, partition_path
from polymarket_assets.lib.schemas import WHALE_EVENTS_SCHEMA
from polymarket_assets.lib.whale_tiers import DEFAULT_THRESHOLDS, tier_label

if TYPE_CHECKING:
    import os


def classify(
    notional_usd: float, thresholds: Sequence[float] = DEFAULT_THRESHOLDS
) -> tuple[str, float] | None:
    """(label, threshold) of the highest tier ``notional_usd`` reaches, or None below the lowest."""
    reached = [t for t in sorted(thresholds) if notional_usd >= t]
    return (tier_label(reached[-1]), reached[-1]) if reached else None


def classify_trade(
    size: float, price: float, thresholds: Sequence[float] = DEFAULT_THRESHOLDS
) -> tuple[str, float] | None:
    return classify(size * price, thresholds)


def _hour_files(data_dir: Path, table: str, start: datetime, end: datetime) -> list[str]:
    out = []
    hour = start.replace(minute=0, second=0, microsecond=0)
    while hour < end:
        directory = partition_path(data_dir / "lake", table, tables.table(table).parts(hour))
        out.extend(str(p) for p in sorted(directory.glob("*.parquet")))
        hour += timedelta(hours=1)
    return out


def _relation(paths: list[str], columns: str) -> str:
    if not paths:
        return f"(SELECT {columns} WHERE false)"
    quoted = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
    return f"read_parquet([{quoted}], union_by_name=true)"


def whale_events_for_window(
    data_dir: str | os.PathLike[str],
    start: datetime,
    end: datetime,
    *,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    market_percentile: float = 0.99,
    lookback: timedelta = timedelta(hours=24),
    computed_at: datetime,
) -> tuple[pa.Table, dict]:
    """Whale events for trades with exchange time in [start, end), as ``WHALE_EVENTS_SCHEMA``, plus stats."""
    data_dir = local_data_dir(data_dir, "whale events")
    thresholds = sorted(thresholds)
    horizon = end + timedelta(minutes=6)
    trade_files = _hour_files(data_dir, "trades", min(start, end - lookback), horizon)
    book_files = _hour_files(data_dir, "book_updates", start - timedelta(hours=1), horizon)
    empty_trades = (
        "NULL::VARCHAR AS trade_uid, NULL::VARCHAR AS asset_id, NULL::VARCHAR AS condition_id, "
        "NULL::VARCHAR AS outcome, NULL::VARCHAR AS side, NULL::DOUBLE AS price, NULL::DOUBLE AS size, "
        "NULL::DOUBLE AS notional_usd, NULL::TIMESTAMPTZ AS exchange_ts, NULL::VARCHAR AS source"
    )
    empty_books = (
        "NULL::VARCHAR AS asset_id, NULL::TIMESTAMPTZ AS exchange_ts, NULL::TIMESTAMPTZ AS received_at, "
        "NULL::BIGINT AS seq, NULL::DOUBLE AS best_bid, NULL::DOUBLE AS best_ask"
    )
    tiers_sql = " ".join(
        f"WHEN notional_usd >= {float(t)!r}::DOUBLE THEN {float(t)!r}::DOUBLE" for t in reversed(thresholds)
    )
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        params = {
            "start": start,
            "end": end,
            "lookback_start": end - lookback,
            "horizon": horizon,
            "books_start": start - timedelta(hours=1),
            "min_usd": thresholds[0],
            "pct": market_percentile,
            "computed_at": computed_at,
        }
        rows = con.execute(
            f"""
            WITH t AS (
                SELECT trade_uid, asset_id, condition_id, outcome, side, price, size, notional_usd, exchange_ts, source
                FROM {_relation(trade_files, empty_trades)}
                WHERE exchange_ts >= LEAST($lookback_start, $start) AND exchange_ts < $horizon
            ),
            ranked AS (
                SELECT *, percent_rank() OVER (PARTITION BY condition_id ORDER BY notional_usd) AS pr,
                       count(*) OVER (PARTITION BY condition_id) AS n
                FROM t WHERE exchange_ts >= $lookback_start AND exchange_ts < $end
            ),
            w AS (
                SELECT * FROM ranked
                WHERE exchange_ts >= $start AND exchange_ts < $end AND notional_usd >= $min_usd
            ),
            w2 AS (
                SELECT *, exchange_ts + INTERVAL 60 SECOND AS t1, exchange_ts + INTERVAL 300 SECOND AS t5 FROM w
            ),
            b AS (
                SELECT asset_id, exchange_ts, arg_max((best_bid + best_ask) / 2, (received_at, seq)) AS mid
                FROM {_relation(book_files, empty_books)}
                WHERE best_bid IS NOT NULL AND best_ask IS NOT NULL
                  AND exchange_ts >= $books_start AND exchange_ts < $horizon
                  AND asset_id IN (SELECT asset_id FROM w)
                GROUP BY asset_id, exchange_ts
            ),
            lt AS (SELECT asset_id, exchange_ts, arg_max(price, trade_uid) AS price FROM t
                   WHERE asset_id IN (SELECT asset_id FROM w) GROUP BY asset_id, exchange_ts),
            joined AS (
                SELECT w2.*, b0.mid AS mid_before, b1.mid AS mid_1m, b5.mid AS mid_5m,
                       l1.price AS last_price_1m, l5.price AS last_price_5m,
                       b1.exchange_ts AS b1_ts, b5.exchange_ts AS b5_ts
                FROM w2
                ASOF LEFT JOIN b b0 ON w2.asset_id = b0.asset_id AND w2.exchange_ts > b0.exchange_ts
                ASOF LEFT JOIN b b1 ON w2.asset_id = b1.asset_id AND w2.t1 >= b1.exchange_ts
                ASOF LEFT JOIN b b5 ON w2.asset_id = b5.asset_id AND w2.t5 >= b5.exchange_ts
                ASOF LEFT JOIN lt l1 ON w2.asset_id = l1.asset_id AND w2.t1 >= l1.exchange_ts
                ASOF LEFT JOIN lt l5 ON w2.asset_id = l5.asset_id AND w2.t5 >= l5.exchange_ts
            )
            SELECT trade_uid, asset_id, condition_id, outcome, side, price, size, notional_usd, exchange_ts,
                   CASE {tiers_sql} END AS threshold_usd,
                   pr AS market_pct_rank, pr >= $pct AS market_outlier, n AS market_trades,
                   mid_before, mid_1m, mid_5m,
                   CASE WHEN side = 'BUY' THEN 1 ELSE -1 END * (mid_1m - mid_before) AS impact_1m,
                   CASE WHEN side = 'BUY' THEN 1 ELSE -1 END * (mid_5m - mid_before) AS impact_5m,
                   last_price_1m, last_price_5m, source, $computed_at AS computed_at
            FROM joined ORDER BY exchange_ts, trade_uid
            """,
            params,
        ).to_arrow_table()
    finally:
        con.close()
    labels = [tier_label(t) if t is not None else None for t in rows.column("threshold_usd").to_pylist()]
    rows = rows.add_column(
        rows.schema.get_field_index("threshold_usd"), "whale_tier", pa.array(labels, pa.string())
    )
    table = rows.select(WHALE_EVENTS_SCHEMA.names).cast(WHALE_EVENTS_SCHEMA)
    events = table.to_pylist()
    stats = {
        **{f"tier_{tier_label(t)}": sum(1 for e in events if e["threshold_usd"] == t) for t in thresholds},
        "market_outliers": sum(1 for e in events if e["market_outlier"]),
        "impact_1m_known": sum(1 for e in events if e["impact_1m"] is not None),
        "impact_5m_missing": sum(1 for e in events if e["impact_5m"] is None),
        "notional_usd": round(sum(e["notional_usd"] for e in events), 2),
    }
    return table, stats
