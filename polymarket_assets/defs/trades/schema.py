"""Column layout of the `trades` and `whale_events` lake tables.

`book_updates`, `ws_gaps` and `market_events` keep the incoming files' own layout (`ws_sidecar.files`), so
ingesting them is a hard link (book updates) or a de-duplicating merge (gaps, market events) with no conversion.
"""

import pyarrow as pa

from polymarket_assets.lib.incoming import INCOMING_BOOK_UPDATES_SCHEMA as BOOK_UPDATES_SCHEMA
from polymarket_assets.lib.incoming import INCOMING_MARKET_EVENTS_SCHEMA as MARKET_EVENTS_SCHEMA
from polymarket_assets.lib.incoming import INCOMING_RAW_FRAMES_SCHEMA as RAW_FRAMES_SCHEMA
from polymarket_assets.lib.incoming import INCOMING_WS_GAPS_SCHEMA as WS_GAPS_SCHEMA

TS_MS = pa.timestamp("ms", tz="UTC")
TS_US = pa.timestamp("us", tz="UTC")

TRADES_SCHEMA = pa.schema(
    [
        ("trade_uid", pa.string()),
        ("source", pa.string()),  # "ws" (last_trade_price) or "data_api" (gap backfill / audit)
        ("asset_id", pa.string()),
        ("condition_id", pa.string()),
        ("outcome", pa.string()),
        ("outcome_index", pa.int64()),
        ("side", pa.string()),
        ("price", pa.float64()),
        ("size", pa.float64()),
        ("notional_usd", pa.float64()),  # size × price
        ("fee_rate_bps", pa.float64()),
        ("exchange_ts", TS_MS),
        ("received_at", TS_US),
        ("transaction_hash", pa.string()),
        ("connection_id", pa.string()),
        ("run_id", pa.string()),
        ("incoming_file", pa.string()),
        ("ingested_at", TS_US),
        # The taker fee of the fill under the market's schedule at ingestion (lib/fees.py); NULL when the market's
        # schedule is unknown, 0 when its fees are off.
        ("fee_usd", pa.float64()),
    ]
)

WHALE_EVENTS_SCHEMA = pa.schema(
    [
        ("trade_uid", pa.string()),
        ("asset_id", pa.string()),
        ("condition_id", pa.string()),
        ("outcome", pa.string()),
        ("side", pa.string()),
        ("price", pa.float64()),
        ("size", pa.float64()),
        ("notional_usd", pa.float64()),
        ("exchange_ts", TS_MS),
        ("whale_tier", pa.string()),  # label of the highest threshold reached, e.g. "1k", "5k", "25k"
        ("threshold_usd", pa.float64()),
        ("market_pct_rank", pa.float64()),  # percent rank of the notional among the market's trailing trades
        ("market_outlier", pa.bool_()),  # market_pct_rank >= the configured percentile
        ("market_trades", pa.int64()),  # trades in that trailing window
        ("mid_before", pa.float64()),
        ("mid_1m", pa.float64()),
        ("mid_5m", pa.float64()),
        ("impact_1m", pa.float64()),  # signed by the taker's side: > 0 when the price moved the trade's way
        ("impact_5m", pa.float64()),
        ("last_price_1m", pa.float64()),
        ("last_price_5m", pa.float64()),
        ("source", pa.string()),
        ("computed_at", TS_US),
    ]
)

__all__ = ["BOOK_UPDATES_SCHEMA", "MARKET_EVENTS_SCHEMA", "RAW_FRAMES_SCHEMA", "TRADES_SCHEMA", "WHALE_EVENTS_SCHEMA", "WS_GAPS_SCHEMA"]
