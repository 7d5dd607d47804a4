"""Point-in-time features: one row per (market, snapshot instant), built in DuckDB over the lake.

A row's instant `ts` is the snapshot's `captured_at`, the moment its prices were observed. Every value in the
row uses only data observed at or before `ts`:

- market metadata (end date, negRisk, event, category) comes from `market_states` **as of** `ts` (the last
  discovery with `observed_at <= ts`), never from `markets_current`, which already knows the future;
- lagged prices for momentum are the last snapshot at or before `ts - h` (and no staler than `ts - 2h`);
- a trade counts from the moment it was observed, `avail_ts = max(exchange_ts, received_at)`: a trade the
  Data API backfilled hours later is not part of the features of the instants before it arrived. Which
  token is YES comes from the market's first recorded state (observed before the trade). Trade and whale
  flow are differences of per-market cumulative sums taken as of `ts` and `ts - window`;
- the negRisk consistency feature sums the latest YES price (at or before `ts`, at most 6 h old) of every
  market that belonged to the same negRisk event as of its own snapshot.

Every lookback is bounded (48 h of snapshots, 7 days of trades), and the lake is read from a fixed distance
before the output window, so a row's features do not depend on which window it was built in.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import pyarrow as pa

from polymarket_assets.lib.ml.sources import MARKET_STATES, SNAPSHOTS, TRADES, relation_sql

WHALE_USD = 1_000.0  # the lowest `whale_events` tier: a whale is classified on USD notional, never on shares
SNAPSHOT_LOOKBACK = timedelta(hours=49)  # 24 h momentum may look back to ts - 48 h
TRADE_LOOKBACK = timedelta(days=7, hours=1)
EVENT_STALENESS_H = 6
WHALE_CAP_H = 168.0  # "hours since the last whale" when there was none in the last 7 days

ID_TYPES = {
    "condition_id": "VARCHAR",
    "ts": "TIMESTAMPTZ",
    "slot_ts": "TIMESTAMPTZ",
    "tier": "VARCHAR",
    "end_date": "TIMESTAMPTZ",
    "event_key": "VARCHAR",
    "category": "VARCHAR",
    "yes_token_id": "VARCHAR",
}
ID_COLUMNS = list(ID_TYPES)

# The model's inputs, in a fixed order (the artifact stores this list). `category_code` is added at training.
FEATURE_COLUMNS = [
    "price",
    "mid",
    "best_bid",
    "best_ask",
    "spread",
    "last_trade_price",
    "bid_depth",
    "ask_depth",
    "bid_depth_1c",
    "ask_depth_1c",
    "bid_depth_5c",
    "ask_depth_5c",
    "imbalance",
    "bid_wall_size",
    "bid_wall_distance",
    "ask_wall_size",
    "ask_wall_distance",
    "momentum_1h",
    "momentum_6h",
    "momentum_24h",
    "volume_24h",
    "liquidity",
    "one_day_price_change",
    "one_week_price_change",
    "trade_count_1h",
    "buy_usd_1h",
    "sell_usd_1h",
    "net_flow_usd_1h",
    "vwap_1h",
    "whale_count_24h",
    "whale_net_usd_24h",
    "whale_net_count_24h",
    "whale_count_7d",
    "whale_net_usd_7d",
    "whale_net_count_7d",
    "hours_since_whale",
    "hours_to_close",
    "hour_of_day",
    "day_of_week",
    "market_age_h",
    "neg_risk",
    "event_yes_sum",
    "event_n_markets",
]


def feature_sql(snapshots: str, market_states: str, trades: str, whale_usd: float = WHALE_USD) -> str:
    """The feature query over three relations (SQL text), with parameters $start, $end, $read_lo, $trade_lo."""
    whale = float(whale_usd)
    return f"""
WITH
snap AS (
    SELECT *, coalesce(mid, last_trade_price) AS price, hash(condition_id) AS k
    FROM {snapshots}
    WHERE captured_at >= $read_lo AND captured_at < $end AND coalesce(mid, last_trade_price) IS NOT NULL
),
states AS (
    SELECT condition_id, observed_at, end_date, created_at, yes_token_id, no_token_id,
           coalesce(neg_risk, false) AS neg_risk,
           CASE WHEN coalesce(neg_risk, false) THEN coalesce(neg_risk_market_id, event_id) END AS event_key,
           category
    FROM {market_states}
    WHERE observed_at < $end AND condition_id IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY condition_id, observed_at ORDER BY end_date NULLS LAST) = 1
),
-- Integer keys for markets (a 64-bit hash of the id; `check_market_keys` rules out collisions first) and
-- events: every lookback below sorts and joins on them, not on 66-byte ids.
event_keys AS (
    SELECT event_key, CAST(row_number() OVER () AS INTEGER) AS e
    FROM (SELECT DISTINCT event_key FROM states WHERE event_key IS NOT NULL)
),
states_k AS (
    SELECT hash(s.condition_id) AS k, s.observed_at, ek.e, s.yes_token_id, s.no_token_id
    FROM states s LEFT JOIN event_keys ek USING (event_key)
),
-- the narrow timeline every lookback reads: (market, instant, price, event as of the instant). A slot
-- written twice (a retried run) counts once, as first observed.
timeline AS (
    SELECT s.k, s.ts, s.price, st.e, st.observed_at AS state_at
    FROM (
        SELECT k, min(captured_at) AS ts, arg_min(price, captured_at) AS price
        FROM snap GROUP BY k, slot_ts
    ) s
    ASOF LEFT JOIN (SELECT k, observed_at, e FROM states_k) st ON s.k = st.k AND s.ts >= st.observed_at
),
probes AS (
    SELECT k, ts, price, e, state_at,
           ts - INTERVAL 1 HOUR AS ts_1h, ts - INTERVAL 6 HOUR AS ts_6h,
           ts - INTERVAL 24 HOUR AS ts_24h, ts - INTERVAL 7 DAY AS ts_7d
    FROM timeline WHERE ts >= $start AND ts < $end
),
trade_rows AS (
    SELECT hash(t.condition_id) AS k, t.asset_id, upper(t.side) AS side, t.price, t.size,
           coalesce(t.notional_usd, t.size * t.price) AS notional,
           greatest(t.exchange_ts, coalesce(t.received_at, t.exchange_ts)) AS avail_ts
    FROM {trades} t
    WHERE t.exchange_ts IS NOT NULL AND t.price IS NOT NULL AND t.size IS NOT NULL
      AND greatest(t.exchange_ts, coalesce(t.received_at, t.exchange_ts)) >= $trade_lo
      AND greatest(t.exchange_ts, coalesce(t.received_at, t.exchange_ts)) < $end
),
-- Which token is YES comes from the market's first recorded state, which must precede the trade's
-- observation (token ids never change, so this is the as-of mapping without a sort-based join).
first_states AS (
    SELECT k, min(observed_at) AS first_at, arg_min(yes_token_id, observed_at) AS yes_token_id,
           arg_min(no_token_id, observed_at) AS no_token_id
    FROM states_k GROUP BY k
),
trade_tokens AS (
    SELECT t.k, t.avail_ts, t.side, t.price, t.size, t.notional, (t.asset_id = st.yes_token_id) AS is_yes
    FROM trade_rows t JOIN first_states st ON t.k = st.k
    WHERE t.avail_ts >= st.first_at AND (t.asset_id = st.yes_token_id OR t.asset_id = st.no_token_id)
),
trade_instants AS (
    -- counts as DOUBLE (exact below 2^53): running sums of BIGINT would be HUGEINT, several times slower
    SELECT k, avail_ts,
           CAST(count(*) AS DOUBLE) AS n,
           sum(CASE WHEN is_yes = (side = 'BUY') THEN notional ELSE 0 END) AS buy_usd,
           sum(CASE WHEN is_yes = (side = 'BUY') THEN 0 ELSE notional END) AS sell_usd,
           sum(CASE WHEN is_yes THEN price ELSE 1 - price END * size) AS px_size,
           sum(size) AS size,
           CAST(sum(CASE WHEN notional >= {whale} THEN 1 ELSE 0 END) AS DOUBLE) AS whales,
           sum(CASE WHEN notional >= {whale} THEN (CASE WHEN is_yes = (side = 'BUY') THEN 1 ELSE -1 END) * notional
                    ELSE 0 END) AS whale_net_usd,
           CAST(sum(CASE WHEN notional >= {whale} THEN (CASE WHEN is_yes = (side = 'BUY') THEN 1 ELSE -1 END)
                    ELSE 0 END) AS DOUBLE) AS whale_net_count
    FROM trade_tokens GROUP BY k, avail_ts
),
trade_cum AS (
    SELECT k, avail_ts,
           sum(n) OVER w AS c_n, sum(buy_usd) OVER w AS c_buy, sum(sell_usd) OVER w AS c_sell,
           sum(px_size) OVER w AS c_pxs, sum(size) OVER w AS c_size,
           sum(whales) OVER w AS c_whales, sum(whale_net_usd) OVER w AS c_wnet, sum(whale_net_count) OVER w AS c_wdir,
           max(CASE WHEN whales > 0 THEN avail_ts END) OVER w AS last_whale
    FROM trade_instants
    WINDOW w AS (PARTITION BY k ORDER BY avail_ts ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
),
lookbacks AS (
    -- one chain of as-of lookups on the narrow probes: lagged prices, then cumulative trade sums
    SELECT p.k, p.ts, p.state_at,
           CASE WHEN l1.lag_ts >= p.ts - INTERVAL 2 HOUR THEN p.price - l1.lag_price END AS momentum_1h,
           CASE WHEN l6.lag_ts >= p.ts - INTERVAL 12 HOUR THEN p.price - l6.lag_price END AS momentum_6h,
           CASE WHEN l24.lag_ts >= p.ts - INTERVAL 48 HOUR THEN p.price - l24.lag_price END AS momentum_24h,
           coalesce(c0.c_n, 0) - coalesce(c1.c_n, 0) AS trade_count_1h,
           coalesce(c0.c_buy, 0) - coalesce(c1.c_buy, 0) AS buy_usd_1h,
           coalesce(c0.c_sell, 0) - coalesce(c1.c_sell, 0) AS sell_usd_1h,
           coalesce(c0.c_pxs, 0) - coalesce(c1.c_pxs, 0) AS pxs_1h,
           coalesce(c0.c_size, 0) - coalesce(c1.c_size, 0) AS size_1h,
           coalesce(c0.c_whales, 0) - coalesce(c24.c_whales, 0) AS whale_count_24h,
           coalesce(c0.c_wnet, 0) - coalesce(c24.c_wnet, 0) AS whale_net_usd_24h,
           coalesce(c0.c_wdir, 0) - coalesce(c24.c_wdir, 0) AS whale_net_count_24h,
           coalesce(c0.c_whales, 0) - coalesce(c7.c_whales, 0) AS whale_count_7d,
           coalesce(c0.c_wnet, 0) - coalesce(c7.c_wnet, 0) AS whale_net_usd_7d,
           coalesce(c0.c_wdir, 0) - coalesce(c7.c_wdir, 0) AS whale_net_count_7d,
           c0.last_whale
    FROM probes p
    ASOF LEFT JOIN (SELECT k, ts AS lag_ts, price AS lag_price FROM timeline) l1 ON p.k = l1.k AND p.ts_1h >= l1.lag_ts
    ASOF LEFT JOIN (SELECT k, ts AS lag_ts, price AS lag_price FROM timeline) l6 ON p.k = l6.k AND p.ts_6h >= l6.lag_ts
    ASOF LEFT JOIN (SELECT k, ts AS lag_ts, price AS lag_price FROM timeline) l24 ON p.k = l24.k AND p.ts_24h >= l24.lag_ts
    ASOF LEFT JOIN trade_cum c0 ON p.k = c0.k AND p.ts >= c0.avail_ts
    ASOF LEFT JOIN (SELECT k, avail_ts, c_n, c_buy, c_sell, c_pxs, c_size FROM trade_cum) c1
      ON p.k = c1.k AND p.ts_1h >= c1.avail_ts
    ASOF LEFT JOIN (SELECT k, avail_ts, c_whales, c_wnet, c_wdir FROM trade_cum) c24
      ON p.k = c24.k AND p.ts_24h >= c24.avail_ts
    ASOF LEFT JOIN (SELECT k, avail_ts, c_whales, c_wnet, c_wdir FROM trade_cum) c7
      ON p.k = c7.k AND p.ts_7d >= c7.avail_ts
),
siblings AS (
    SELECT DISTINCT e, k AS sibling_k FROM timeline WHERE e IS NOT NULL
),
sibling_prices AS (
    SELECT p.k, p.ts, b.price AS sibling_price
    FROM (SELECT r.k, r.ts, r.e, s.sibling_k FROM probes r JOIN siblings s ON r.e = s.e) p
    ASOF JOIN (SELECT k, ts AS sibling_ts, price, e FROM timeline WHERE e IS NOT NULL) b
      ON p.sibling_k = b.k AND p.ts >= b.sibling_ts
    -- the sibling counts only if it was in this event as of its own snapshot, and that snapshot is recent
    WHERE b.e = p.e AND b.sibling_ts >= p.ts - INTERVAL {EVENT_STALENESS_H} HOUR
),
event_sums AS (
    SELECT k, ts, sum(sibling_price) AS event_yes_sum, count(*) AS event_n_markets
    FROM sibling_prices GROUP BY k, ts
)
SELECT
    r.condition_id, r.captured_at AS ts, r.slot_ts, r.tier, st.end_date, st.event_key, st.category, r.yes_token_id,
    r.price, r.mid, r.best_bid, r.best_ask, r.spread, r.last_trade_price,
    r.bid_depth, r.ask_depth, r.bid_depth_1c, r.ask_depth_1c, r.bid_depth_5c, r.ask_depth_5c, r.imbalance,
    r.bid_wall_size, r.bid_wall_distance, r.ask_wall_size, r.ask_wall_distance,
    f.momentum_1h, f.momentum_6h, f.momentum_24h,
    r.volume_24h, r.liquidity, r.one_day_price_change, r.one_week_price_change,
    CAST(f.trade_count_1h AS DOUBLE) AS trade_count_1h,
    CAST(f.buy_usd_1h AS DOUBLE) AS buy_usd_1h,
    CAST(f.sell_usd_1h AS DOUBLE) AS sell_usd_1h,
    CAST(f.buy_usd_1h - f.sell_usd_1h AS DOUBLE) AS net_flow_usd_1h,
    CAST(CASE WHEN f.trade_count_1h > 0 AND f.size_1h > 0 THEN f.pxs_1h / f.size_1h ELSE r.price END AS DOUBLE) AS vwap_1h,
    CAST(f.whale_count_24h AS DOUBLE) AS whale_count_24h,
    CAST(f.whale_net_usd_24h AS DOUBLE) AS whale_net_usd_24h,
    CAST(f.whale_net_count_24h AS DOUBLE) AS whale_net_count_24h,
    CAST(f.whale_count_7d AS DOUBLE) AS whale_count_7d,
    CAST(f.whale_net_usd_7d AS DOUBLE) AS whale_net_usd_7d,
    CAST(f.whale_net_count_7d AS DOUBLE) AS whale_net_count_7d,
    CAST(least({WHALE_CAP_H}, coalesce((epoch(r.captured_at) - epoch(f.last_whale)) / 3600.0, {WHALE_CAP_H})) AS DOUBLE)
        AS hours_since_whale,
    (epoch(st.end_date) - epoch(r.captured_at)) / 3600.0 AS hours_to_close,
    -- from the epoch (UTC by definition): calendar functions on TIMESTAMPTZ go through ICU and cost far more
    CAST(floor(epoch(r.captured_at) / 3600) % 24 AS DOUBLE) AS hour_of_day,
    CAST((floor(epoch(r.captured_at) / 86400) + 3) % 7 + 1 AS DOUBLE) AS day_of_week,
    (epoch(r.captured_at) - epoch(st.created_at)) / 3600.0 AS market_age_h,
    CAST(CASE WHEN coalesce(st.neg_risk, false) THEN 1 ELSE 0 END AS DOUBLE) AS neg_risk,
    CASE WHEN st.event_key IS NULL THEN r.price ELSE ev.event_yes_sum END AS event_yes_sum,
    CAST(CASE WHEN st.event_key IS NULL THEN 1 ELSE ev.event_n_markets END AS DOUBLE) AS event_n_markets
FROM (SELECT * FROM snap WHERE captured_at >= $start) r
-- inner join on the first observation of each slot: a retried slot's later copy finds no partner
JOIN lookbacks f ON r.k = f.k AND r.captured_at = f.ts
-- the as-of state was found on the narrow timeline; here it is a plain equality join
LEFT JOIN states st ON r.condition_id = st.condition_id AND f.state_at = st.observed_at
LEFT JOIN event_sums ev ON f.k = ev.k AND f.ts = ev.ts
"""


def window_params(start: datetime, end: datetime) -> dict:
    return {
        "start": start,
        "end": end,
        "read_lo": start - SNAPSHOT_LOOKBACK,
        "trade_lo": start - TRADE_LOOKBACK,
    }


def lake_feature_sql(lake_root, whale_usd: float = WHALE_USD) -> str:
    return feature_sql(
        relation_sql(lake_root, SNAPSHOTS),
        relation_sql(lake_root, MARKET_STATES),
        relation_sql(lake_root, TRADES),
        whale_usd,
    )


def check_market_keys(con: duckdb.DuckDBPyConnection, lake_root, start: datetime, end: datetime) -> None:
    """The feature query keys markets by a 64-bit hash of their id; refuse to run if two ids share one."""
    sql = f"""
        WITH ids AS (
            SELECT condition_id FROM {relation_sql(lake_root, MARKET_STATES)} WHERE observed_at < $end
            UNION SELECT condition_id FROM {relation_sql(lake_root, SNAPSHOTS)}
            WHERE captured_at >= $read_lo AND captured_at < $end
        )
        SELECT count(*), count(DISTINCT hash(condition_id)) FROM ids
    """
    params = window_params(start, end)
    ids, hashes = con.execute(sql, {"end": params["end"], "read_lo": params["read_lo"]}).fetchall()[0]
    if ids != hashes:
        raise RuntimeError(f"{ids - hashes} market id hash collisions among {ids} markets")


def build_features(
    con: duckdb.DuckDBPyConnection, lake_root, start: datetime, end: datetime, whale_usd: float = WHALE_USD
) -> pa.Table:
    """Feature rows with `start <= ts < end`, ordered by (condition_id, ts), as an Arrow table."""
    check_market_keys(con, lake_root, start, end)
    sql = lake_feature_sql(lake_root, whale_usd) + " ORDER BY condition_id, ts"
    return con.sql(sql, params=window_params(start, end)).to_arrow_table()


def copy_features(
    con: duckdb.DuckDBPyConnection,
    lake_root,
    start: datetime,
    end: datetime,
    path: str,
    whale_usd: float = WHALE_USD,
) -> int:
    """Stream the feature rows of a window straight into one Parquet file (no Arrow copy in Python)."""
    check_market_keys(con, lake_root, start, end)
    sql = lake_feature_sql(lake_root, whale_usd)
    escaped = str(path).replace("'", "''")
    con.execute(
        f"COPY ({sql}) TO '{escaped}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)",
        window_params(start, end),
    )
    return con.execute(f"SELECT count(*) FROM read_parquet('{escaped}')").fetchall()[0][0]
