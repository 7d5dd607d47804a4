"""A synthetic lake of realistic shape, generated in DuckDB, for benchmarks and fast tests of the ML layer.

Markets live 1-10 days and are snapshotted at their tier's cadence (hourly beyond 48 h from close, 5 min,
1 min, 30 s, 15 s in the last hour), with discovery states every hour, trades at 2-40 an hour (5 % whales
of $1k-$50k; with probability `informed` a whale trades towards the outcome) and a resolution 2 h after
close. The YES mid drifts from a prior to the outcome (weight tau³) with noise, like the simulator's.
Each table is written with the columns and hive partitioning the registry declares for it (`lib/tables.py`;
a column the generator does not fill is NULL), so the feature SQL reads the files exactly as it reads
collected data.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from polymarket_assets.lib import tables
from polymarket_assets.lib.sql import sql_text
from polymarket_assets.lib.tables import TIME_KEY_FORMATS
from polymarket_assets.lib.tiers import DEFAULT_PLAN
from polymarket_assets.lib.warehouse import duckdb_type

# (tier, hours to close above, interval seconds)
TIER_CADENCE = [(t.name, max(t.min_hours, -1e9), t.interval_s) for t in DEFAULT_PLAN.live]


def generate_lake(
    data_dir: str | os.PathLike,
    markets: int,
    start: datetime,
    days: float,
    seed: int = 0,
    informed: float = 0.8,
    memory_limit: str = "2GB",
    threads: int = 2,
) -> dict[str, int]:
    """Write snapshots, market_states, trades and resolutions for `markets` markets closing in
    [start + 1 day, start + days]; returns row counts per table."""
    root = Path(data_dir) / "lake"
    root.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute(f"SET threads = {int(threads)}")
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET preserve_insertion_order = false")
    con.execute(f"SELECT setseed({(seed % 1000) / 1000.0})")
    span_s = int(days * 86400)
    t0 = start.timestamp()
    con.execute(
        f"""
        CREATE TABLE m AS
        SELECT i AS mid_index,
               '0x' || lpad(printf('%x', i), 64, '0') AS condition_id,
               '7' || lpad(CAST(i * 2 AS VARCHAR), 76, '0') AS yes_token_id,
               '7' || lpad(CAST(i * 2 + 1 AS VARCHAR), 76, '0') AS no_token_id,
               to_timestamp({t0} + 86400 + random() * ({span_s} - 86400)) AS end_date,
               (1 + 9 * random()) * 86400 AS life_s,
               CASE WHEN random() < 0.5 THEN 1 ELSE 0 END AS y,
               random() * 1.6 - 0.8 AS prior,
               0.3 + random() * 0.8 AS sigma,
               CASE WHEN random() < 0.2 THEN 'E' || (i // 4) END AS neg_key,
               (['Politics', 'Sports', 'Crypto', 'Economy'])[1 + (i % 4)] AS category,
               2 + random() * 38 AS trades_per_h
        FROM range({int(markets)}) t(i)
        """
    )
    con.execute("CREATE TABLE tiers(tier VARCHAR, above_h DOUBLE, interval_s BIGINT, below_h DOUBLE)")
    bounds = [1e9] + [c[1] for c in TIER_CADENCE[:-1]]
    con.executemany(
        "INSERT INTO tiers VALUES (?, ?, ?, ?)", [(t, a, s, b) for (t, a, s), b in zip(TIER_CADENCE, bounds)]
    )
    # Snapshot instants: per market and tier, every interval from the tier's window start to its end.
    con.execute(
        f"""
        CREATE TABLE s AS
        WITH windows AS (
            SELECT m.*, tiers.tier, tiers.interval_s,
                   greatest(epoch(m.end_date) - m.life_s, epoch(m.end_date) - tiers.below_h * 3600, {t0}) AS w0,
                   least(epoch(m.end_date) - tiers.above_h * 3600, epoch(m.end_date) + 1800, {t0 + span_s}) AS w1
            FROM m CROSS JOIN tiers
        ),
        instants AS (
            SELECT w.*, unnest(range(CAST(ceil(w0 / interval_s) * interval_s AS BIGINT), CAST(w1 AS BIGINT),
                                     interval_s)) AS slot
            FROM windows w WHERE w1 > w0
        ),
        priced AS (
            SELECT *, least(1.0, greatest(0.0, (slot - (epoch(end_date) - life_s)) / life_s)) AS tau FROM instants
        )
        SELECT condition_id, tier, to_timestamp(slot) AS slot_ts,
               to_timestamp(slot + random() * 2) AS captured_at, yes_token_id, no_token_id,
               1 / (1 + exp(-((prior * (1 - tau ** 3) + (y * 2 - 1) * 4.0 * tau ** 3)
                             + sigma * sqrt(1 - tau ** 3) * sin(slot / 7200.0 + mid_index)))) AS fair,
               tier IN ({", ".join(f"'{t.name}'" for t in DEFAULT_PLAN.tiers if t.books)}) AS books, end_date, y, mid_index
        FROM priced
        """
    )
    counts = {"snapshots": con.execute("SELECT count(*) FROM s").fetchall()[0][0]}
    snapshot_sql = """
        SELECT condition_id, tier, slot_ts, captured_at, epoch(captured_at - slot_ts) AS lag_s,
               CASE WHEN books THEN 'books' ELSE 'prices' END AS source, 'ok' AS book_status,
               yes_token_id, no_token_id,
               round(greatest(0.001, fair - 0.01), 3) AS best_bid, round(least(0.999, fair + 0.01), 3) AS best_ask,
               (round(greatest(0.001, fair - 0.01), 3) + round(least(0.999, fair + 0.01), 3)) / 2 AS mid,
               round(least(0.999, fair + 0.01), 3) - round(greatest(0.001, fair - 0.01), 3) AS spread,
               round(fair, 3) AS last_trade_price,
               1 - round(least(0.999, fair + 0.01), 3) AS no_best_bid, 1 - round(greatest(0.001, fair - 0.01), 3) AS no_best_ask,
               1 - (round(greatest(0.001, fair - 0.01), 3) + round(least(0.999, fair + 0.01), 3)) / 2 AS no_mid,
               CASE WHEN books THEN 200 + 800 * random() END AS bid_depth,
               CASE WHEN books THEN 200 + 800 * random() END AS ask_depth,
               CASE WHEN books THEN 50 + 100 * random() END AS bid_depth_1c,
               CASE WHEN books THEN 50 + 100 * random() END AS ask_depth_1c,
               CASE WHEN books THEN 150 + 400 * random() END AS bid_depth_5c,
               CASE WHEN books THEN 150 + 400 * random() END AS ask_depth_5c,
               CASE WHEN books THEN random() * 2 - 1 END AS imbalance,
               CASE WHEN books THEN fair - 0.03 END AS bid_wall_price, CASE WHEN books THEN 300 * random() END AS bid_wall_size,
               CASE WHEN books THEN 0.03 END AS bid_wall_distance,
               CASE WHEN books THEN fair + 0.03 END AS ask_wall_price, CASE WHEN books THEN 300 * random() END AS ask_wall_size,
               CASE WHEN books THEN 0.03 END AS ask_wall_distance,
               NULL::VARCHAR AS book_hash, CASE WHEN books THEN slot_ts END AS book_ts,
               1000 + 50 * mid_index % 5000 AS volume_24h, 5000.0 + mid_index % 7000 AS liquidity,
               (random() - 0.5) * 0.1 AS one_day_price_change, (random() - 0.5) * 0.2 AS one_week_price_change,
               epoch(end_date - slot_ts) / 3600 AS hours_to_close
        FROM s
    """
    _copy(con, snapshot_sql, root, tables.SNAPSHOTS, "slot_ts")
    states_sql = f"""
        WITH hours AS (
            SELECT m.*, unnest(range(CAST(ceil(greatest(epoch(end_date) - life_s, {t0}) / 3600) * 3600 AS BIGINT),
                                     CAST(least(epoch(end_date) + 7200, {t0 + span_s}) AS BIGINT), 3600)) AS h
            FROM m
        )
        SELECT to_timestamp(h + 20) AS observed_at, CAST(mid_index AS VARCHAR) AS gamma_id, condition_id,
               'Synthetic market ' || mid_index || '?' AS question, 'market-' || mid_index AS slug,
               yes_token_id, no_token_id, end_date, to_timestamp(epoch(end_date) - life_s) AS created_at,
               neg_key IS NOT NULL AS neg_risk, neg_key AS neg_risk_market_id, coalesce(neg_key, 'ev' || mid_index) AS event_id,
               category
        FROM hours
    """
    _copy(con, states_sql, root, tables.MARKET_STATES, "observed_at")
    counts["market_states"] = con.execute(f"SELECT count(*) FROM ({states_sql})").fetchall()[0][0]
    trades_sql = f"""
        WITH windows AS (
            SELECT m.*, greatest(epoch(end_date) - life_s, {t0}) AS w0, least(epoch(end_date), {t0 + span_s}) AS w1
            FROM m
        ),
        n AS (SELECT *, CAST((w1 - w0) / 3600 * trades_per_h AS BIGINT) AS k FROM windows WHERE w1 > w0),
        t AS (SELECT n.*, unnest(range(k)) AS j FROM n),
        drawn AS (
            SELECT condition_id, yes_token_id, no_token_id, y, w0 + random() * (w1 - w0) AS ts,
                   random() < 0.05 AS whale, random() AS u1, random() AS u2, random() AS u3
            FROM t
        ),
        signed AS (
            SELECT *, CASE WHEN whale AND u2 < {float(informed)} THEN (CASE WHEN y = 1 THEN 1 ELSE -1 END)
                           ELSE (CASE WHEN u3 < 0.5 THEN 1 ELSE -1 END) END AS towards_yes,
                   CASE WHEN whale THEN 1000 * pow(1 - u1, -1 / 1.2) ELSE exp(ln(25) + 1.3 * (u1 - 0.5) * 3) END AS usd
            FROM drawn
        )
        SELECT 'syn-' || md5(condition_id || ts) AS trade_uid, 'ws' AS source,
               CASE WHEN u3 < 0.5 THEN yes_token_id ELSE no_token_id END AS asset_id, condition_id,
               CASE WHEN (u3 < 0.5) = (towards_yes = 1) THEN 'BUY' ELSE 'SELL' END AS side,
               0.5 AS price, least(usd, 250000) / 0.5 AS size, least(usd, 250000) AS notional_usd,
               make_timestamptz(CAST(ts * 1e6 AS BIGINT)) AS exchange_ts,
               make_timestamptz(CAST((ts + 0.3) * 1e6 AS BIGINT)) AS received_at
        FROM signed
    """
    con.execute(f"CREATE TABLE tr AS {trades_sql}")
    _copy(con, "SELECT * FROM tr", root, tables.TRADES, "exchange_ts")
    counts["trades"] = con.execute("SELECT count(*) FROM tr").fetchall()[0][0]
    resolutions_sql = f"""
        SELECT condition_id, CASE WHEN y = 1 THEN 'YES' ELSE 'NO' END AS outcome, NULL::VARCHAR AS winning_token_id,
               NULL::VARCHAR AS winning_outcome, end_date + INTERVAL 2 HOUR AS resolved_at, 'synthetic' AS source,
               NULL::VARCHAR AS detail, NULL::VARCHAR AS outcome_prices, 'resolved' AS uma_resolution_status,
               end_date + INTERVAL 2 HOUR AS checked_at
        FROM m WHERE epoch(end_date) + 7200 < {t0 + span_s}
    """
    _copy(con, resolutions_sql, root, tables.RESOLUTIONS, "checked_at")
    counts["resolutions"] = con.execute(f"SELECT count(*) FROM ({resolutions_sql})").fetchall()[0][0]
    con.close()
    return counts


def _copy(con: duckdb.DuckDBPyConnection, sql: str, root: Path, table: tables.Table, at: str) -> None:
    """Write the rows of `sql` as `table`'s files: the registry's columns, each cast to its type (NULL where
    `sql` has no such column), in hive partitions whose time keys come from column `at`."""
    generated = {row[0] for row in con.execute(f"DESCRIBE {sql}").fetchall()}
    columns = []
    for field in table.schema:
        value = f'"{field.name}"' if field.name in generated else "NULL"
        columns.append(f'CAST({value} AS {duckdb_type(field.type)}) AS "{field.name}"')
    columns += [f"strftime({at}, '{TIME_KEY_FORMATS[key]}') AS {key}" for key in table.hive_columns]
    directory = root / table.name
    directory.mkdir(parents=True, exist_ok=True)
    con.execute(
        f"COPY (SELECT {', '.join(columns)} FROM ({sql})) TO {sql_text(str(directory))} "
        f"(FORMAT parquet, COMPRESSION zstd, PARTITION_BY ({', '.join(table.partitioning)}), "
        "OVERWRITE_OR_IGNORE, FILENAME_PATTERN 'synthetic-{i}')"
    )


def synthetic_window(start: datetime, days: float) -> tuple[datetime, datetime]:
    return start, start + timedelta(days=days)
