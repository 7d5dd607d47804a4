"""CLOB market-channel websocket frames → typed events (polymarket_api.md §4).

A frame is the text ``PONG``, one JSON object, or a JSON array of objects. ``price_change`` has had three
schemas (current ``price_changes[]`` since 2025-09-15, legacy v1 ``changes[]``, legacy v0 one level per
message); all become one ``PriceChangeEvent`` holding ``LevelChange`` rows. Unknown event types come back as
``UnknownEvent`` for the caller to count; anything malformed raises ``ParseError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from polymarket_assets.lib.books import Book, parse_book
from polymarket_assets.lib.errors import ParseError
from polymarket_assets.lib.fees import FeeSchedule, parse_fee_schedule
from polymarket_assets.lib.parse_common import (
    get_field,
    load_json_text,
    to_bool,
    to_condition_id,
    to_epoch_ms,
    to_float,
    to_nonneg,
    to_price,
    to_str,
    to_token_id,
)
from polymarket_assets.lib.parse_trades import parse_side


@dataclass(frozen=True)
class WsEvent:
    event_type: ClassVar[str] = ""


@dataclass(frozen=True)
class PongEvent(WsEvent):
    event_type: ClassVar[str] = "pong"


@dataclass(frozen=True)
class BookEvent(WsEvent):
    event_type: ClassVar[str] = "book"
    book: Book

    @property
    def market(self) -> str:
        return self.book.market

    @property
    def asset_id(self) -> str:
        return self.book.asset_id

    @property
    def timestamp_ms(self) -> int:
        return self.book.timestamp_ms


@dataclass(frozen=True)
class LevelChange:
    """One level update. ``side`` is the book side (BUY = bid level, SELL = ask level); ``size`` is the new
    total at ``price``, and 0 removes the level. ``best_bid``/``best_ask`` exist only in the current schema."""

    asset_id: str
    price: float
    size: float
    side: str
    hash: str | None = None
    best_bid: float | None = None
    best_ask: float | None = None


@dataclass(frozen=True)
class PriceChangeEvent(WsEvent):
    event_type: ClassVar[str] = "price_change"
    market: str
    timestamp_ms: int
    changes: tuple[LevelChange, ...]
    schema: str  # "v2" (price_changes[]), "v1" (changes[]) or "v0" (one level per message)


@dataclass(frozen=True)
class LastTradePriceEvent(WsEvent):
    event_type: ClassVar[str] = "last_trade_price"
    market: str
    asset_id: str
    price: float
    size: float
    side: str
    fee_rate_bps: float | None
    timestamp_ms: int

    @property
    def notional_usd(self) -> float:
        return self.price * self.size


@dataclass(frozen=True)
class TickSizeChangeEvent(WsEvent):
    event_type: ClassVar[str] = "tick_size_change"
    market: str
    asset_id: str
    old_tick_size: float | None
    new_tick_size: float
    timestamp_ms: int


@dataclass(frozen=True)
class BestBidAskEvent(WsEvent):
    event_type: ClassVar[str] = "best_bid_ask"
    market: str
    asset_id: str
    best_bid: float | None
    best_ask: float | None
    spread: float | None
    timestamp_ms: int


@dataclass(frozen=True)
class NewMarketEvent(WsEvent):
    event_type: ClassVar[str] = "new_market"
    market: str
    market_id: str | None
    question: str | None
    slug: str | None
    asset_ids: tuple[str, ...]
    outcomes: tuple[str, ...]
    event_id: str | None
    event_slug: str | None
    event_title: str | None
    timestamp_ms: int
    fees_enabled: bool | None = None
    fee_schedule: FeeSchedule | None = None


@dataclass(frozen=True)
class MarketResolvedEvent(NewMarketEvent):
    event_type: ClassVar[str] = "market_resolved"
    winning_asset_id: str | None = None
    winning_outcome: str | None = None


@dataclass(frozen=True)
class UnknownEvent(WsEvent):
    """A message whose ``event_type`` we do not handle (or that has none). Kept whole for the raw archive."""

    event_type_name: str | None
    raw: dict
    event_type: ClassVar[str] = "unknown"


# -- per-type parsers ---------------------------------------------------------------------------------------


def _market(msg: dict) -> str:
    return to_condition_id(msg.get("market"), "market")


def _ts(msg: dict) -> int:
    return to_epoch_ms(msg.get("timestamp"), "timestamp")


def _level_change(entry: Any, where: str, parent: dict | None = None) -> LevelChange:
    """One level. In the legacy v1 schema ``asset_id`` and ``hash`` live on the parent message."""
    if not isinstance(entry, dict):
        raise ParseError(f"{where} entry is not an object")
    owner = entry if parent is None else parent
    return LevelChange(
        asset_id=to_token_id(owner.get("asset_id"), f"{where}.asset_id"),
        price=to_price(entry.get("price"), f"{where}.price", required=True),
        size=to_nonneg(entry.get("size"), f"{where}.size", required=True),
        side=parse_side(entry.get("side"), f"{where}.side"),
        hash=to_str(owner.get("hash"), f"{where}.hash"),
        best_bid=to_price(entry.get("best_bid"), f"{where}.best_bid"),
        best_ask=to_price(entry.get("best_ask"), f"{where}.best_ask"),
    )


def _price_change(msg: dict) -> PriceChangeEvent:
    if "price_changes" in msg:
        entries = msg["price_changes"]
        if not isinstance(entries, list):
            raise ParseError("price_changes is not a list")
        changes = tuple(_level_change(e, "price_changes") for e in entries)
        schema = "v2"
    elif "changes" in msg:
        entries = msg["changes"]
        if not isinstance(entries, list):
            raise ParseError("changes is not a list")
        changes = tuple(_level_change(e, "changes", parent=msg) for e in entries)
        schema = "v1"
    elif "price" in msg:
        changes = (_level_change(msg, "price_change"),)
        schema = "v0"
    else:
        raise ParseError("price_change has neither price_changes, changes nor price")
    return PriceChangeEvent(market=_market(msg), timestamp_ms=_ts(msg), changes=changes, schema=schema)


def _book(msg: dict) -> BookEvent:
    return BookEvent(book=parse_book(msg))


def _last_trade(msg: dict) -> LastTradePriceEvent:
    return LastTradePriceEvent(
        market=_market(msg),
        asset_id=to_token_id(msg.get("asset_id"), "asset_id"),
        price=to_price(msg.get("price"), "price", required=True),
        size=to_nonneg(msg.get("size"), "size", required=True),
        side=parse_side(msg.get("side")),
        fee_rate_bps=to_nonneg(msg.get("fee_rate_bps"), "fee_rate_bps"),
        timestamp_ms=_ts(msg),
    )


def _tick_size(value: Any, field: str, *, required: bool) -> float | None:
    result = to_price(value, field, required=required)
    if result is not None and result <= 0:
        raise ParseError(f"{field} must be > 0")
    return result


def _tick_size_change(msg: dict) -> TickSizeChangeEvent:
    return TickSizeChangeEvent(
        market=_market(msg),
        asset_id=to_token_id(msg.get("asset_id"), "asset_id"),
        old_tick_size=_tick_size(msg.get("old_tick_size"), "old_tick_size", required=False),
        new_tick_size=_tick_size(msg.get("new_tick_size"), "new_tick_size", required=True),
        timestamp_ms=_ts(msg),
    )


def _best_bid_ask(msg: dict) -> BestBidAskEvent:
    return BestBidAskEvent(
        market=_market(msg),
        asset_id=to_token_id(msg.get("asset_id"), "asset_id"),
        best_bid=to_price(msg.get("best_bid"), "best_bid"),
        best_ask=to_price(msg.get("best_ask"), "best_ask"),
        spread=to_float(msg.get("spread"), "spread"),
        timestamp_ms=_ts(msg),
    )


def _string_list(value: Any, field: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ParseError(f"{field} is not a list")
    return value


def _id(value: Any, field: str) -> str | None:
    """Gamma ids are numeric strings; tolerate a JSON integer."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return to_str(value, field)


def _market_fields(msg: dict) -> dict[str, Any]:
    """Fields shared by ``new_market`` and ``market_resolved`` (docs and 2026 capture spellings)."""
    asset_ids = _string_list(get_field(msg, "assets_ids", "clob_token_ids"), "assets_ids")
    outcomes = _string_list(msg.get("outcomes"), "outcomes")
    if not all(isinstance(o, str) for o in outcomes):
        raise ParseError("outcomes must be strings")
    event = msg.get("event_message") or {}
    if not isinstance(event, dict):
        raise ParseError("event_message is not an object")
    return {
        "market": to_condition_id(get_field(msg, "market", "condition_id"), "market"),
        "market_id": _id(msg.get("id"), "id"),
        "question": to_str(msg.get("question"), "question"),
        "slug": to_str(msg.get("slug"), "slug"),
        "asset_ids": tuple(to_token_id(a, "assets_ids[]") for a in asset_ids),
        "outcomes": tuple(outcomes),
        "event_id": _id(event.get("id"), "event_message.id"),
        "event_slug": to_str(event.get("slug"), "event_message.slug"),
        "event_title": to_str(event.get("title"), "event_message.title"),
        "timestamp_ms": _ts(msg),
        "fees_enabled": to_bool(msg.get("fees_enabled"), "fees_enabled"),
        "fee_schedule": parse_fee_schedule(msg.get("fee_schedule"), "fee_schedule"),
    }


def _new_market(msg: dict) -> NewMarketEvent:
    return NewMarketEvent(**_market_fields(msg))


def _market_resolved(msg: dict) -> MarketResolvedEvent:
    winner = msg.get("winning_asset_id")
    return MarketResolvedEvent(
        **_market_fields(msg),
        winning_asset_id=None if winner in (None, "") else to_token_id(winner, "winning_asset_id"),
        winning_outcome=to_str(msg.get("winning_outcome"), "winning_outcome"),
    )


_PARSERS = {
    "book": _book,
    "price_change": _price_change,
    "last_trade_price": _last_trade,
    "tick_size_change": _tick_size_change,
    "best_bid_ask": _best_bid_ask,
    "new_market": _new_market,
    "market_resolved": _market_resolved,
}


def parse_ws_message(msg: Any) -> WsEvent:
    """One decoded JSON message → one event."""
    if not isinstance(msg, dict):
        raise ParseError(f"websocket message must be an object, got {type(msg).__name__}")
    event_type = msg.get("event_type")
    parser = _PARSERS.get(event_type) if isinstance(event_type, str) else None
    if parser is None:
        return UnknownEvent(event_type_name=event_type if isinstance(event_type, str) else None, raw=msg)
    try:
        return parser(msg)
    except ParseError as exc:
        raise ParseError(f"{event_type}: {exc.reason}") from None


@dataclass(frozen=True)
class RejectedMessage:
    """One message of a frame that failed to parse; the frame's other messages are unaffected."""

    index: int  # position in the frame (0 for a frame holding a single object)
    message: Any  # the decoded message, as sent
    reason: str


def parse_ws_frame_each(text: str) -> tuple[list[WsEvent], list[RejectedMessage]]:
    """One websocket text frame → its good events and its rejected messages, each message judged on its own.

    A frame that cannot be decoded at all (not UTF-8, not JSON, JSON but neither an object nor an array) still
    raises ``ParseError``: there is no message in it to keep.
    """
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise ParseError("frame is not UTF-8") from None
    if not isinstance(text, str):
        raise ParseError(f"frame must be text, got {type(text).__name__}")
    stripped = text.strip()
    if stripped.upper() == "PONG":
        return [PongEvent()], []
    if not stripped:
        raise ParseError("empty frame")
    decoded = load_json_text(stripped, "frame")
    if isinstance(decoded, dict):
        messages = [decoded]
    elif isinstance(decoded, list):
        messages = decoded
    else:
        raise ParseError(f"frame is JSON {type(decoded).__name__}, expected an object or an array")
    events: list[WsEvent] = []
    rejected: list[RejectedMessage] = []
    for index, message in enumerate(messages):
        try:
            events.append(parse_ws_message(message))
        except ParseError as exc:
            rejected.append(RejectedMessage(index, message, exc.reason))
    return events, rejected


def parse_ws_frame(text: str) -> list[WsEvent]:
    """One websocket text frame → its events (a frame may batch several messages in an array). Strict: the
    first bad message raises ``ParseError`` (``parse_ws_frame_each`` keeps the good ones instead)."""
    events, rejected = parse_ws_frame_each(text)
    if rejected:
        raise ParseError(rejected[0].reason)
    return events
