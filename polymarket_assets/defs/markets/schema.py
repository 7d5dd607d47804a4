"""Column layout of the `market_states`, `markets_current` and `tier_transitions` tables."""

import pyarrow as pa

from polymarket_assets.lib.fees import FEE_FIELDS

TS = pa.timestamp("us", tz="UTC")

MARKET_STATE_SCHEMA = pa.schema(
    [
        ("observed_at", TS),
        ("gamma_id", pa.string()),
        ("condition_id", pa.string()),
        ("question", pa.string()),
        ("slug", pa.string()),
        ("outcome_kind", pa.string()),
        ("yes_outcome", pa.string()),
        ("no_outcome", pa.string()),
        ("yes_token_id", pa.string()),
        ("no_token_id", pa.string()),
        # As Gamma sent them (JSON text): the listed outcome names, the protocol version and both id fields;
        # the yes/no token ids above are chosen from them by version and mapped by outcome name.
        ("outcomes", pa.string()),
        ("version", pa.string()),
        ("clob_token_ids", pa.string()),
        ("position_ids", pa.string()),
        ("yes_price", pa.float64()),
        ("no_price", pa.float64()),
        ("start_date", TS),
        ("end_date", TS),
        ("created_at", TS),
        ("closed_time", TS),
        ("active", pa.bool_()),
        ("closed", pa.bool_()),
        ("archived", pa.bool_()),
        ("accepting_orders", pa.bool_()),
        ("neg_risk", pa.bool_()),
        ("neg_risk_market_id", pa.string()),
        ("event_id", pa.string()),
        ("event_slug", pa.string()),
        ("event_title", pa.string()),
        ("category", pa.string()),
        ("volume", pa.float64()),
        ("volume_24h", pa.float64()),
        ("volume_1wk", pa.float64()),
        ("liquidity", pa.float64()),
        ("best_bid", pa.float64()),
        ("best_ask", pa.float64()),
        ("last_trade_price", pa.float64()),
        ("spread", pa.float64()),
        ("one_day_price_change", pa.float64()),
        ("one_week_price_change", pa.float64()),
        ("uma_resolution_status", pa.string()),
        ("tick_size", pa.float64()),
        ("min_order_size", pa.float64()),
        ("tier", pa.string()),
        ("hours_to_close", pa.float64()),
        *FEE_FIELDS,
    ]
)

# The current-state table adds when a market was first and last seen open by discovery.
MARKET_CURRENT_SCHEMA = MARKET_STATE_SCHEMA.append(pa.field("first_seen_at", TS)).append(
    pa.field("last_seen_open_at", TS)
).append(pa.field("discovery_status", pa.string()))

TIER_TRANSITION_SCHEMA = pa.schema(
    [
        ("condition_id", pa.string()),
        ("old_tier", pa.string()),
        ("new_tier", pa.string()),
        ("transition_at", TS),
        ("hours_to_close", pa.float64()),
        ("observed_at", TS),
    ]
)
