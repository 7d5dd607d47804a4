"""The warehouse views of the `trades` domain (appended to `VIEWS` in `defs/warehouse/views.py`)."""

import pyarrow as pa

from polymarket_assets.defs.trades.schema import (
    BOOK_UPDATES_SCHEMA,
    MARKET_EVENTS_SCHEMA,
    TRADES_SCHEMA,
    WHALE_EVENTS_SCHEMA,
    WS_GAPS_SCHEMA,
)
from polymarket_assets.lib.warehouse import ViewSpec


def _with_hive(schema: pa.Schema) -> pa.Schema:
    return schema.append(pa.field("date", pa.string())).append(pa.field("hour", pa.string()))


TRADE_VIEWS = [
    ViewSpec(
        "trades",
        "trades",
        _with_hive(TRADES_SCHEMA),
        """SELECT asset_id, condition_id, outcome, price, size, side, notional_usd, exchange_ts, received_at,
                  source, trade_uid, transaction_hash, outcome_index, fee_rate_bps, fee_usd
           FROM src""",
    ),
    ViewSpec("book_updates", "book_updates", _with_hive(BOOK_UPDATES_SCHEMA), "SELECT * EXCLUDE (date, hour) FROM src"),
    ViewSpec(
        "ws_gaps",
        "ws_gaps",
        _with_hive(WS_GAPS_SCHEMA),
        """SELECT connection_id, start_ts, end_ts, reason, detail, n_assets, condition_id,
                  epoch(end_ts) - epoch(start_ts) AS seconds, gap_id, run_id, detected_at
           FROM src""",
    ),
    ViewSpec("whale_events", "whale_events", _with_hive(WHALE_EVENTS_SCHEMA), "SELECT * EXCLUDE (date, hour) FROM src"),
    ViewSpec("market_events", "market_events", _with_hive(MARKET_EVENTS_SCHEMA), "SELECT * EXCLUDE (date, hour) FROM src"),
    # Each websocket `market_resolved` as a provisional label, seconds after the fact; `resolutions` holds the
    # strict label that confirms or contradicts it.
    ViewSpec(
        "provisional_resolutions",
        "market_events",
        _with_hive(MARKET_EVENTS_SCHEMA),
        """SELECT condition_id, outcome, winning_asset_id, winning_outcome, exchange_ts AS resolved_at, source,
                  detail, received_at
           FROM src WHERE event_type = 'market_resolved'
           QUALIFY row_number() OVER (PARTITION BY condition_id ORDER BY exchange_ts DESC) = 1""",
    ),
]
