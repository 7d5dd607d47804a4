"""Gamma market objects → ``GammaMarket`` rows (polymarket_api.md §1.3).

Owns the outcome → token mapping that the old system got wrong: ``outcomes``, ``outcomePrices`` and
``clobTokenIds`` are JSON-encoded arrays that share an index. Yes/No markets are mapped by name; other binary
markets (Up/Down, team names) map index 0 to the ``yes_*`` columns and keep their real names; markets with
more than two outcomes are marked ``multi`` and get no yes/no columns at all.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from polymarket_assets.lib.errors import ParseError
from polymarket_assets.lib.fees import FeeSchedule, parse_fee_schedule
from polymarket_assets.lib.parse_common import (
    json_list,
    to_bool,
    to_condition_id,
    to_datetime,
    to_float,
    to_nonneg,
    to_price,
    to_str,
    to_token_id,
)

YES_NO = "yes_no"
NAMED_BINARY = "named_binary"
MULTI = "multi"


@dataclass(frozen=True)
class GammaMarket:
    gamma_id: str
    condition_id: str | None  # None for a few stale 2024 markets that carry conditionId ""
    question: str
    slug: str | None
    outcomes: tuple[str, ...]
    token_ids: tuple[str, ...]  # () when the market has no CLOB tokens yet
    outcome_prices: tuple[float | None, ...]
    yes_token_id: str | None
    no_token_id: str | None
    yes_outcome: str | None
    no_outcome: str | None
    outcome_kind: str
    end_date: datetime | None
    start_date: datetime | None
    created_at: datetime | None
    updated_at: datetime | None
    closed_time: datetime | None
    active: bool | None
    closed: bool | None
    archived: bool | None
    accepting_orders: bool | None
    enable_order_book: bool | None
    neg_risk: bool | None
    neg_risk_market_id: str | None
    question_id: str | None
    group_item_title: str | None
    event_id: str | None
    event_slug: str | None
    event_title: str | None
    category: str | None
    volume: float | None
    volume_num: float | None
    volume_24h: float | None
    volume_1wk: float | None
    liquidity: float | None
    best_bid: float | None
    best_ask: float | None
    last_trade_price: float | None
    spread: float | None
    one_day_price_change: float | None
    one_week_price_change: float | None
    uma_resolution_status: str | None
    uma_resolution_statuses: tuple[str, ...]
    tick_size: float | None
    min_order_size: float | None
    # Fee Structure V2 (polymarket_api.md §9.7); `fees_enabled` falls back to "has a non-zero schedule".
    fees_enabled: bool | None = None
    fee_type: str | None = None
    fee_schedule: FeeSchedule | None = None

    @property
    def yes_price(self) -> float | None:
        return self._price_of(self.yes_token_id)

    @property
    def no_price(self) -> float | None:
        return self._price_of(self.no_token_id)

    def _price_of(self, token_id: str | None) -> float | None:
        if token_id is None or not self.token_ids:
            return None
        return self.outcome_prices[self.token_ids.index(token_id)]


def _gamma_id(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        raise ParseError("missing id")
    if isinstance(value, int) and value >= 0:
        return str(value)
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return value
    raise ParseError(f"id is not a numeric string: {str(value)[:40]!r}")


def _outcomes(obj: dict) -> tuple[str, ...]:
    raw = json_list(obj.get("outcomes"), "outcomes", required=True)
    if len(raw) < 2:
        raise ParseError(f"outcomes has {len(raw)} entries, a market needs at least 2")
    if not all(isinstance(o, str) and o.strip() for o in raw):
        raise ParseError("outcomes must be non-empty strings")
    if len({o.strip().lower() for o in raw}) != len(raw):
        raise ParseError("outcomes contain duplicates")
    return tuple(raw)


def _token_ids(obj: dict, n: int) -> tuple[str, ...]:
    raw = json_list(obj.get("clobTokenIds"), "clobTokenIds")
    if raw is None or raw == []:
        return ()
    if len(raw) != n:
        raise ParseError(f"clobTokenIds has {len(raw)} entries but outcomes has {n}")
    ids = tuple(to_token_id(t, "clobTokenIds[]") for t in raw)
    if len(set(ids)) != len(ids):
        raise ParseError("clobTokenIds contain duplicates")
    return ids


def _outcome_prices(obj: dict, n: int) -> tuple[float | None, ...]:
    raw = json_list(obj.get("outcomePrices"), "outcomePrices")
    if raw is None or raw == []:
        return (None,) * n
    if len(raw) != n:
        raise ParseError(f"outcomePrices has {len(raw)} entries but outcomes has {n}")
    return tuple(to_price(p, "outcomePrices[]") for p in raw)


def _uma_statuses(obj: dict) -> tuple[str, ...]:
    raw = json_list(obj.get("umaResolutionStatuses"), "umaResolutionStatuses")
    if raw is None:
        return ()
    if not all(isinstance(s, str) for s in raw):
        raise ParseError("umaResolutionStatuses must hold strings")
    return tuple(raw)


def _event(obj: dict) -> dict:
    events = obj.get("events")
    if events is None:
        return {}
    if not isinstance(events, list):
        raise ParseError("events is not a list")
    if not events:
        return {}
    first = events[0]
    if not isinstance(first, dict):
        raise ParseError("events[0] is not an object")
    return first


def _event_id(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return to_str(value, "events[0].id")


def _map_binary(outcomes: tuple[str, ...]) -> tuple[str, int | None, int | None]:
    """(kind, yes_index, no_index) for the outcome → token mapping."""
    if len(outcomes) != 2:
        return MULTI, None, None
    names = [o.strip().lower() for o in outcomes]
    if set(names) == {"yes", "no"}:
        return YES_NO, names.index("yes"), names.index("no")
    return NAMED_BINARY, 0, 1


def parse_gamma_market(obj: dict) -> GammaMarket:
    """Parse one Gamma market object. Unknown keys are ignored; missing optional keys become None."""
    if not isinstance(obj, dict):
        raise ParseError(f"market must be an object, got {type(obj).__name__}")
    outcomes = _outcomes(obj)
    n = len(outcomes)
    token_ids = _token_ids(obj, n)
    prices = _outcome_prices(obj, n)
    kind, yes_i, no_i = _map_binary(outcomes)
    event = _event(obj)

    liquidity = obj.get("liquidity")
    if liquidity is None:
        liquidity = obj.get("liquidityNum")

    return GammaMarket(
        gamma_id=_gamma_id(obj.get("id")),
        condition_id=to_condition_id(obj.get("conditionId"), "conditionId", allow_empty=True),
        question=to_str(obj.get("question"), "question", required=True),
        slug=to_str(obj.get("slug"), "slug"),
        outcomes=outcomes,
        token_ids=token_ids,
        outcome_prices=prices,
        yes_token_id=token_ids[yes_i] if token_ids and yes_i is not None else None,
        no_token_id=token_ids[no_i] if token_ids and no_i is not None else None,
        yes_outcome=outcomes[yes_i] if yes_i is not None else None,
        no_outcome=outcomes[no_i] if no_i is not None else None,
        outcome_kind=kind,
        end_date=to_datetime(obj.get("endDate"), "endDate"),
        start_date=to_datetime(obj.get("startDate"), "startDate"),
        created_at=to_datetime(obj.get("createdAt"), "createdAt"),
        updated_at=to_datetime(obj.get("updatedAt"), "updatedAt"),
        closed_time=to_datetime(obj.get("closedTime"), "closedTime"),
        active=to_bool(obj.get("active"), "active"),
        closed=to_bool(obj.get("closed"), "closed"),
        archived=to_bool(obj.get("archived"), "archived"),
        accepting_orders=to_bool(obj.get("acceptingOrders"), "acceptingOrders"),
        enable_order_book=to_bool(obj.get("enableOrderBook"), "enableOrderBook"),
        neg_risk=to_bool(obj.get("negRisk"), "negRisk"),
        neg_risk_market_id=to_str(obj.get("negRiskMarketID"), "negRiskMarketID") or None,
        question_id=to_str(obj.get("questionID"), "questionID") or None,
        group_item_title=to_str(obj.get("groupItemTitle"), "groupItemTitle") or None,
        event_id=_event_id(event.get("id")),
        event_slug=to_str(event.get("slug"), "events[0].slug"),
        event_title=to_str(event.get("title"), "events[0].title"),
        category=to_str(obj.get("category"), "category"),
        volume=to_float(obj.get("volume"), "volume"),
        volume_num=to_float(obj.get("volumeNum"), "volumeNum"),
        volume_24h=to_float(obj.get("volume24hr"), "volume24hr"),
        volume_1wk=to_float(obj.get("volume1wk"), "volume1wk"),
        liquidity=to_float(liquidity, "liquidity"),
        best_bid=to_price(obj.get("bestBid"), "bestBid"),
        best_ask=to_price(obj.get("bestAsk"), "bestAsk"),
        last_trade_price=to_price(obj.get("lastTradePrice"), "lastTradePrice"),
        spread=_price_change(obj.get("spread"), "spread"),
        one_day_price_change=_price_change(obj.get("oneDayPriceChange"), "oneDayPriceChange"),
        one_week_price_change=_price_change(obj.get("oneWeekPriceChange"), "oneWeekPriceChange"),
        uma_resolution_status=to_str(obj.get("umaResolutionStatus"), "umaResolutionStatus"),
        uma_resolution_statuses=_uma_statuses(obj),
        tick_size=_tick_size(obj.get("orderPriceMinTickSize")),
        min_order_size=to_nonneg(obj.get("orderMinSize"), "orderMinSize"),
        **_fees(obj),
    )


def _fees(obj: dict) -> dict[str, Any]:
    schedule = parse_fee_schedule(obj.get("feeSchedule"))
    enabled = to_bool(obj.get("feesEnabled"), "feesEnabled")
    if enabled is None and schedule is not None:
        enabled = schedule.rate > 0
    return {"fees_enabled": enabled, "fee_type": to_str(obj.get("feeType"), "feeType"), "fee_schedule": schedule}


def _price_change(value: Any, field: str) -> float | None:
    """A difference of two prices (also used for ``spread``, which a crossed book can make negative)."""
    result = to_float(value, field)
    if result is not None and not -1.0 <= result <= 1.0:
        raise ParseError(f"{field} {result} outside [-1, 1]")
    return result


def _tick_size(value: Any) -> float | None:
    result = to_float(value, "orderPriceMinTickSize")
    if result is not None and not 0.0 < result <= 1.0:
        raise ParseError(f"orderPriceMinTickSize {result} outside (0, 1]")
    return result


def parse_gamma_event_markets(event: dict) -> list[GammaMarket]:
    """The markets embedded in a Gamma event, with the event's id/slug/title filled in.

    Markets inside an event payload usually carry no ``events[]`` of their own.
    """
    if not isinstance(event, dict):
        raise ParseError(f"event must be an object, got {type(event).__name__}")
    markets = event.get("markets")
    if markets is None:
        return []
    if not isinstance(markets, list):
        raise ParseError("event markets is not a list")
    event_id = _event_id(event.get("id"))
    slug = to_str(event.get("slug"), "event.slug")
    title = to_str(event.get("title"), "event.title")
    out = []
    for market in markets:
        parsed = parse_gamma_market(market)
        if parsed.event_id is None:
            parsed = replace(parsed, event_id=event_id, event_slug=slug, event_title=title)
        out.append(parsed)
    return out


def gamma_market_to_row(m: GammaMarket) -> dict[str, Any]:
    """Plain columns for Parquet: tuples become lists, datetimes stay aware UTC datetimes."""
    row = asdict(m)
    for key, value in row.items():
        if isinstance(value, tuple):
            row[key] = list(value)
    return row
