"""Column layout of the `snapshots`, `orderbooks` and `sweeps` tables."""

import pyarrow as pa

TS = pa.timestamp("us", tz="UTC")

SNAPSHOT_SCHEMA = pa.schema(
    [
        ("condition_id", pa.string()),
        ("tier", pa.string()),
        ("slot_ts", TS),
        ("captured_at", TS),
        ("lag_s", pa.float64()),
        ("source", pa.string()),
        ("book_status", pa.string()),
        ("yes_token_id", pa.string()),
        ("no_token_id", pa.string()),
        ("best_bid", pa.float64()),
        ("best_ask", pa.float64()),
        ("mid", pa.float64()),
        ("spread", pa.float64()),
        ("last_trade_price", pa.float64()),
        ("no_best_bid", pa.float64()),
        ("no_best_ask", pa.float64()),
        ("no_mid", pa.float64()),
        ("bid_depth", pa.float64()),
        ("ask_depth", pa.float64()),
        ("bid_depth_1c", pa.float64()),
        ("ask_depth_1c", pa.float64()),
        ("bid_depth_5c", pa.float64()),
        ("ask_depth_5c", pa.float64()),
        ("imbalance", pa.float64()),
        ("bid_wall_price", pa.float64()),
        ("bid_wall_size", pa.float64()),
        ("bid_wall_distance", pa.float64()),
        ("ask_wall_price", pa.float64()),
        ("ask_wall_size", pa.float64()),
        ("ask_wall_distance", pa.float64()),
        ("book_hash", pa.string()),
        ("book_ts", TS),
        ("volume_24h", pa.float64()),
        ("liquidity", pa.float64()),
        ("one_day_price_change", pa.float64()),
        ("one_week_price_change", pa.float64()),
        ("hours_to_close", pa.float64()),
    ]
)

LEVEL = pa.struct([("price", pa.float64()), ("size", pa.float64())])

ORDERBOOK_SCHEMA = pa.schema(
    [
        ("condition_id", pa.string()),
        ("token_id", pa.string()),
        ("tier", pa.string()),
        ("slot_ts", TS),
        ("captured_at", TS),
        ("book_ts", TS),
        ("hash", pa.string()),
        ("bids", pa.list_(LEVEL)),
        ("asks", pa.list_(LEVEL)),
        ("tick_size", pa.float64()),
        ("last_trade_price", pa.float64()),
    ]
)

SWEEP_SCHEMA = pa.schema(
    [
        ("tier", pa.string()),
        ("slot_ts", TS),
        ("started_at", TS),
        ("lag_s", pa.float64()),
        ("status", pa.string()),
        ("expected", pa.int64()),
        ("captured", pa.int64()),
        ("duration_s", pa.float64()),
        ("run_id", pa.string()),
        ("error", pa.string()),
    ]
)
