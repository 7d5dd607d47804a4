"""Custom websocket events (`new_market`, `market_resolved`) → `market_events` rows (``files.MARKET_EVENTS_SCHEMA``).

A `new_market` row is the market's first sighting; a `market_resolved` row is its provisional resolution, with
the claim turned into a label by outcome name (`lib/labels.label_from_ws_resolved`). The `resolutions` asset
later confirms or contradicts it from Gamma and the CLOB.
"""

from __future__ import annotations

from polymarket_assets.lib.fees import schedule_columns
from polymarket_assets.lib.labels import WS_MARKET_RESOLVED, label_from_ws_resolved
from polymarket_assets.lib.ws_messages import MarketResolvedEvent, NewMarketEvent

WS_NEW_MARKET = "ws_new_market"


def market_event_row(
    event: NewMarketEvent, key: str, received_us: int, connection_id: str, run_id: str
) -> tuple:
    outcome = detail = winning_asset = winning_outcome = None
    if isinstance(event, MarketResolvedEvent):
        label = label_from_ws_resolved(
            event.outcomes, event.asset_ids, event.winning_outcome, event.winning_asset_id
        )
        outcome, detail = label.outcome, label.detail or None
        winning_asset, winning_outcome = event.winning_asset_id, event.winning_outcome
    fees = schedule_columns(event.fees_enabled, None, event.fee_schedule)
    return (
        key,
        event.event_type,
        WS_MARKET_RESOLVED if isinstance(event, MarketResolvedEvent) else WS_NEW_MARKET,
        event.market,
        event.market_id,
        event.question,
        event.slug,
        list(event.asset_ids),
        list(event.outcomes),
        winning_asset,
        winning_outcome,
        outcome,
        detail,
        *fees.values(),
        event.timestamp_ms,
        received_us,
        connection_id,
        run_id,
    )
