"""Data API trade rows → ``Trade`` (polymarket_api.md §5), with USD notional and the dedup key.

Accepts the v1 ``/trades`` camelCase rows and the v2 snake_case rows. Whale logic downstream must use
``notional_usd`` (size × price), never the share count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from polymarket_assets.lib.errors import ParseError
from polymarket_assets.lib.parse_common import (
    epoch_s_to_ms,
    get_field,
    to_condition_id,
    to_int,
    to_nonneg,
    to_price,
    to_str,
    to_token_id,
)

SIDES = ("BUY", "SELL")


@dataclass(frozen=True)
class Trade:
    asset_id: str
    condition_id: str
    side: str
    size: float
    price: float
    notional_usd: float
    timestamp: int  # epoch seconds, inside the time contract's window
    outcome: str | None
    outcome_index: int | None
    transaction_hash: str | None
    proxy_wallet: str | None
    slug: str | None = None
    event_slug: str | None = None
    title: str | None = None


def parse_side(value: Any, field: str = "side") -> str:
    if not isinstance(value, str) or value.upper() not in SIDES:
        raise ParseError(f"{field} must be BUY or SELL, got {str(value)[:20]!r}")
    return value.upper()


def parse_data_api_trade(obj: dict) -> Trade:
    if not isinstance(obj, dict):
        raise ParseError(f"trade must be an object, got {type(obj).__name__}")
    size = to_nonneg(obj.get("size"), "size", required=True)
    price = to_price(obj.get("price"), "price", required=True)
    # The Data API sends block time in epoch seconds (v1 and v2, polymarket_api.md §9.2): converted explicitly and
    # held to the time contract, so a row in milliseconds (or any other unit) is rejected, never stored.
    timestamp = epoch_s_to_ms(obj.get("timestamp"), "timestamp") // 1000
    outcome_index = to_int(get_field(obj, "outcomeIndex", "outcome_index"), "outcomeIndex")
    if outcome_index is not None and outcome_index < 0:
        raise ParseError("outcomeIndex is negative")
    return Trade(
        asset_id=to_token_id(get_field(obj, "asset", "token_id", "asset_id"), "asset"),
        condition_id=to_condition_id(get_field(obj, "conditionId", "condition_id"), "conditionId"),
        side=parse_side(obj.get("side")),
        size=size,
        price=price,
        notional_usd=size * price,
        timestamp=timestamp,
        outcome=to_str(obj.get("outcome"), "outcome"),
        outcome_index=outcome_index,
        transaction_hash=to_str(get_field(obj, "transactionHash", "transaction_hash"), "transactionHash"),
        proxy_wallet=to_str(get_field(obj, "proxyWallet", "proxy_wallet"), "proxyWallet"),
        slug=to_str(obj.get("slug"), "slug"),
        event_slug=to_str(get_field(obj, "eventSlug", "event_slug"), "eventSlug"),
        title=to_str(obj.get("title"), "title"),
    )


def trade_dedup_key(trade: Trade) -> tuple[str | None, str, str, float, float, int]:
    """(transactionHash, asset, side, size, price, timestamp): the Data API has no trade id (§5).

    One transaction can fill several orders, so the hash alone is not unique.
    """
    return (trade.transaction_hash, trade.asset_id, trade.side, trade.size, trade.price, trade.timestamp)
