"""The Arrow schemas of the lake tables: the columns each producer writes, in order.

`lib/tables.py` registers each schema with its table (partitioning, producers, views); everything else that
needs a table's columns or types derives them from there. `book_updates`, `ws_raw_frames`' archive, `ws_gaps`
and `market_events` keep the recorder's incoming-file layout (`INCOMING_*` below), so ingesting them is a hard
link (book updates) or a de-duplicating merge (gaps, market events) with no conversion; their lake names below
are those layouts.
"""

import pyarrow as pa

from polymarket_assets.lib.fees import FEE_FIELDS

TS = pa.timestamp("us", tz="UTC")
TS_MS = pa.timestamp("ms", tz="UTC")

# --- discovery: market_states, markets_current, tier_transitions

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
MARKET_CURRENT_SCHEMA = pa.schema(
    [
        *MARKET_STATE_SCHEMA,
        ("first_seen_at", TS),
        ("last_seen_open_at", TS),
        ("discovery_status", pa.string()),
    ]
)

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

# --- snapshot sweeps: snapshots, orderbooks, sweeps

# The columns a snapshot copies from its market's discovery state as last seen (`lib/sweep.py`).
SNAPSHOT_MARKET_COLUMNS = ("volume_24h", "liquidity", "one_day_price_change", "one_week_price_change")

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
        *(MARKET_STATE_SCHEMA.field(name) for name in SNAPSHOT_MARKET_COLUMNS),
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

# --- labels and coverage: resolutions, coverage

RESOLUTION_SCHEMA = pa.schema(
    [
        ("condition_id", pa.string()),
        ("outcome", pa.string()),
        ("winning_token_id", pa.string()),
        ("winning_outcome", pa.string()),
        ("resolved_at", TS),
        ("source", pa.string()),
        ("detail", pa.string()),
        ("outcome_prices", pa.string()),
        ("uma_resolution_status", pa.string()),
        ("checked_at", TS),
        # The websocket `market_resolved` claim this check confirmed or contradicted (`market_events`), if any.
        ("ws_outcome", pa.string()),
    ]
)

COVERAGE_SCHEMA = pa.schema(
    [
        ("tier", pa.string()),
        ("hour_start", TS),
        ("expected", pa.int64()),
        ("captured", pa.int64()),
        ("coverage", pa.float64()),
        ("instants", pa.int64()),
        ("instants_with_misses", pa.int64()),
        ("computed_at", TS),
        # The hour was not over when measured; only its instants before `measured_until` were counted.
        ("in_progress", pa.bool_()),
        ("measured_until", TS),
        # Missed pairs inside a planned restart of the exchange (`ws_gaps` reason planned_restart): not counted.
        ("missed_planned_restart", pa.int64()),
    ]
)

# --- the recorder's tables: trades, whale_events (book_updates, ws_gaps, market_events: incoming layout)

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
        ("received_at", TS),
        ("transaction_hash", pa.string()),
        ("connection_id", pa.string()),
        ("run_id", pa.string()),
        ("incoming_file", pa.string()),
        ("ingested_at", TS),
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
        ("computed_at", TS),
    ]
)

# --- the ML layer: features, training_set, predictions, model_evaluations, backtest_bets

# What a feature row is about: the market, the instant `ts` (the snapshot's captured_at) and its context.
FEATURE_ID_SCHEMA = pa.schema(
    [
        ("condition_id", pa.string()),
        ("ts", TS),
        ("slot_ts", TS),
        ("tier", pa.string()),
        ("end_date", TS),
        ("event_key", pa.string()),
        ("category", pa.string()),
        ("yes_token_id", pa.string()),
    ]
)
ID_COLUMNS = FEATURE_ID_SCHEMA.names

# Whale flow over (ts - window, ts], per window (`lib/ml/features.FLOW_WINDOWS_H` gives their lengths): how many
# whale trades, their net USD towards YES and their net count (trades towards YES minus towards NO).
WHALE_WINDOWS = ("6h", "24h", "7d")
WHALE_FLOW_COLUMNS = [
    f"whale_{measure}_{window}" for window in WHALE_WINDOWS for measure in ("count", "net_usd", "net_count")
]

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
    *WHALE_FLOW_COLUMNS,
    "hours_since_whale",
    "hours_to_close",
    "hour_of_day",
    "day_of_week",
    "market_age_h",
    "neg_risk",
    "event_yes_sum",
    "event_n_markets",
]

FEATURE_SCHEMA = pa.schema([*FEATURE_ID_SCHEMA, *((name, pa.float64()) for name in FEATURE_COLUMNS)])

TRAINING_SET_SCHEMA = pa.schema(
    [
        ("close_ts", TS),
        ("horizon_h", pa.float64()),
        ("target_ts", TS),
        *FEATURE_SCHEMA,
        ("outcome", pa.string()),
        ("resolved_at", TS),
        ("label_ts", TS),
        ("cluster", pa.string()),
        ("label", pa.int64()),
        ("split", pa.string()),
    ]
)

PREDICTION_SCHEMA = pa.schema(
    [
        ("condition_id", pa.string()),
        ("predicted_at", TS),
        ("feature_ts", TS),
        ("model_version", pa.string()),
        ("p_yes", pa.float64()),
        ("price", pa.float64()),
        ("best_bid", pa.float64()),
        ("best_ask", pa.float64()),
        ("edge_buy_yes", pa.float64()),
        ("edge_buy_no", pa.float64()),
        ("best_side", pa.string()),
        ("best_edge", pa.float64()),
        ("hours_to_close", pa.float64()),
        ("tier", pa.string()),
        # The model was fitted on rows at most this far from close; beyond it the prediction extrapolates.
        ("within_training_horizons", pa.bool_()),
    ]
)

EVALUATION_SCHEMA = pa.schema(
    [
        ("model_version", pa.string()),
        ("evaluated_at", TS),
        ("split", pa.string()),
        ("group_kind", pa.string()),  # overall, horizon, category, price_bucket
        ("group", pa.string()),
        ("forecaster", pa.string()),
        ("is_best_baseline", pa.bool_()),
        ("rows", pa.int64()),
        ("clusters", pa.int64()),
        ("brier", pa.float64()),
        ("log_loss", pa.float64()),
        ("auc", pa.float64()),
        ("ece", pa.float64()),
        ("reliability", pa.float64()),
        ("resolution", pa.float64()),
        ("delta_brier_model_minus_this", pa.float64()),
        ("delta_ci_low", pa.float64()),
        ("delta_ci_high", pa.float64()),
        ("delta_log_loss_model_minus_this", pa.float64()),
        ("delta_log_loss_ci_low", pa.float64()),
        ("delta_log_loss_ci_high", pa.float64()),
    ]
)

# One backtest bet (`lib/ml/backtest.py`); the lake table adds the model version that placed it.
BET_SCHEMA = pa.schema(
    [
        ("condition_id", pa.string()),
        ("cluster", pa.string()),
        ("decision_ts", TS),
        ("entry_ts", TS),
        ("settle_ts", TS),
        ("side", pa.string()),
        ("p_model", pa.float64()),
        ("decision_price", pa.float64()),
        ("entry_price", pa.float64()),  # average price paid per share over the levels walked
        ("levels_walked", pa.int64()),
        ("shares", pa.float64()),
        ("cost_usd", pa.float64()),
        ("fee_usd", pa.float64()),
        ("capital_usd", pa.float64()),  # at risk: cost + fee
        ("edge_at_entry", pa.float64()),  # p (or 1 - p) minus the average price and fee per share
        ("outcome", pa.int64()),
        ("pnl_usd", pa.float64()),
        ("return_on_capital", pa.float64()),
    ]
)
BACKTEST_BETS_SCHEMA = BET_SCHEMA.append(pa.field("model_version", pa.string()))

# --- the recorder's incoming files (`lib/incoming.py` names and reads them)
# Row tuples are built in exactly these column orders on the hot path (no dicts per row).
INCOMING_TRADES_SCHEMA = pa.schema(
    [
        ("trade_uid", pa.string()),
        ("source", pa.string()),  # "ws" (last_trade_price) or "data_api" (backfill)
        ("asset_id", pa.string()),
        ("condition_id", pa.string()),
        ("side", pa.string()),
        ("price", pa.float64()),
        ("size", pa.float64()),
        ("fee_rate_bps", pa.float64()),
        ("exchange_ts", TS_MS),  # WS: epoch ms as sent; Data API: epoch s * 1000
        ("received_at", TS),
        ("outcome", pa.string()),
        ("outcome_index", pa.int64()),
        ("transaction_hash", pa.string()),
        ("connection_id", pa.string()),
        ("run_id", pa.string()),
    ]
)

INCOMING_BOOK_UPDATES_SCHEMA = pa.schema(
    [
        ("received_at", TS),
        ("exchange_ts", TS_MS),
        ("run_id", pa.string()),
        ("connection_id", pa.string()),
        ("seq", pa.int64()),  # per-process row counter: the order rows were applied in
        ("asset_id", pa.string()),
        ("condition_id", pa.string()),
        ("kind", pa.string()),  # "snapshot", "change" or "tick_size"
        ("source", pa.string()),  # "ws" or "rest" (POST /books reseed or resync)
        ("side", pa.string()),  # change rows: BUY = bid level, SELL = ask level
        ("price", pa.float64()),
        ("size", pa.float64()),  # change rows: the new total at price; 0 removes the level
        ("bids", pa.list_(LEVEL)),  # snapshot rows
        ("asks", pa.list_(LEVEL)),
        ("hash", pa.string()),
        ("best_bid", pa.float64()),  # the local book after applying this row
        ("best_ask", pa.float64()),
        ("tick_size", pa.float64()),
    ]
)

INCOMING_RAW_FRAMES_SCHEMA = pa.schema(
    [
        ("received_at", TS),
        ("run_id", pa.string()),
        ("connection_id", pa.string()),
        ("seq", pa.int64()),
        ("frame", pa.string()),
    ]
)

INCOMING_WS_GAPS_SCHEMA = pa.schema(
    [
        ("gap_id", pa.string()),
        ("run_id", pa.string()),
        ("connection_id", pa.string()),
        ("start_ts", TS_MS),
        ("end_ts", TS_MS),
        (
            "reason",
            pa.string(),
        ),  # "disconnect", "freeze", "resync", "restart", "write_failed" or "planned_restart"
        ("detail", pa.string()),
        ("n_assets", pa.int64()),
        ("condition_id", pa.string()),  # set when a resync concerns one market
        ("detected_at", TS),
    ]
)

# The custom events (`custom_feature_enabled`): a `new_market` is the market's first sighting, a `market_resolved`
# the provisional resolution (`outcome` is its claim as a label, confirmed or contradicted by `resolutions`).
INCOMING_MARKET_EVENTS_SCHEMA = pa.schema(
    [
        (
            "event_key",
            pa.string(),
        ),  # <event_type>:<condition_id>:<exchange ms>; one row per event whatever the sockets
        ("event_type", pa.string()),  # "new_market" or "market_resolved"
        ("source", pa.string()),  # "ws_new_market" or "ws_market_resolved"
        ("condition_id", pa.string()),
        ("market_id", pa.string()),
        ("question", pa.string()),
        ("slug", pa.string()),
        ("asset_ids", pa.list_(pa.string())),
        ("outcomes", pa.list_(pa.string())),
        ("winning_asset_id", pa.string()),
        ("winning_outcome", pa.string()),
        ("outcome", pa.string()),  # market_resolved: YES / NO / UNKNOWN (by outcome name, lib/labels.py)
        ("detail", pa.string()),
        *FEE_FIELDS,
        ("exchange_ts", TS_MS),
        ("received_at", TS),
        ("connection_id", pa.string()),
        ("run_id", pa.string()),
    ]
)

# --- the recorder's lake tables, in its incoming-file layout
BOOK_UPDATES_SCHEMA = INCOMING_BOOK_UPDATES_SCHEMA
RAW_FRAMES_SCHEMA = INCOMING_RAW_FRAMES_SCHEMA
WS_GAPS_SCHEMA = INCOMING_WS_GAPS_SCHEMA
MARKET_EVENTS_SCHEMA = INCOMING_MARKET_EVENTS_SCHEMA
