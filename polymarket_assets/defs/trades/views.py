"""The warehouse views of the `trades` domain (appended to `VIEWS` in `defs/warehouse/views.py`).

`trades` also states every trade in YES terms (`yes_price`, `yes_side`): a trade of the NO token at p is a trade of
YES at 1 - p on the other side (a NO BUY at 0.3 is a YES SELL at 0.7). The token's side is found by its outcome
NAME against the market's `yes_outcome`/`no_outcome` (never by index); a trade whose outcome matches neither gets
NULLs, not a guess. YES-terms prices are rounded to the market's tick. `large_trades` is every trade at or above the
lowest whale threshold, live (the `whale_events` job runs hourly, for the previous hour).
"""

import pyarrow as pa

from polymarket_assets.defs.trades.schema import (
    BOOK_UPDATES_SCHEMA,
    MARKET_EVENTS_SCHEMA,
    TRADES_SCHEMA,
    WHALE_EVENTS_SCHEMA,
    WS_GAPS_SCHEMA,
)
from polymarket_assets.lib.trades.whales import DEFAULT_THRESHOLDS, tier_label
from polymarket_assets.lib.warehouse import ViewSpec, to_tick


def _with_hive(schema: pa.Schema) -> pa.Schema:
    return schema.append(pa.field("date", pa.string())).append(pa.field("hour", pa.string()))


# Which token of its market a trade is in, by outcome name (`markets` is the view over markets_current).
_IS_YES = "lower(t.outcome) = lower(m.yes_outcome)"
_IS_NO = "lower(t.outcome) = lower(m.no_outcome)"
TRADES_SQL = f"""
    SELECT t.asset_id, t.condition_id, t.outcome, t.price, t.size, t.side, t.notional_usd, t.exchange_ts,
           t.received_at, t.source, t.trade_uid, t.transaction_hash, t.outcome_index, t.fee_rate_bps, t.fee_usd,
           CASE WHEN {_IS_YES} THEN 'YES' WHEN {_IS_NO} THEN 'NO' END AS token,
           CASE WHEN {_IS_YES} THEN {to_tick("t.price", "m.tick_size")}
                WHEN {_IS_NO} THEN {to_tick("1 - t.price", "m.tick_size")} END AS yes_price,
           CASE WHEN {_IS_YES} THEN t.side
                WHEN {_IS_NO} THEN CASE t.side WHEN 'BUY' THEN 'SELL' WHEN 'SELL' THEN 'BUY' END END AS yes_side,
           m.question, m.slug
    FROM src t LEFT JOIN markets m ON m.condition_id = t.condition_id"""

_WHALE_TIER = " ".join(f"WHEN notional_usd >= {t!r} THEN '{tier_label(t)}'" for t in sorted(DEFAULT_THRESHOLDS, reverse=True))
LARGE_TRADES_SQL = f"""
    SELECT *, CASE {_WHALE_TIER} END AS whale_tier FROM ({TRADES_SQL})
    WHERE notional_usd >= {min(DEFAULT_THRESHOLDS)!r}"""

TRADE_VIEWS = [
    ViewSpec("trades", "trades", _with_hive(TRADES_SCHEMA), TRADES_SQL),
    ViewSpec("large_trades", "trades", _with_hive(TRADES_SCHEMA), LARGE_TRADES_SQL),
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
