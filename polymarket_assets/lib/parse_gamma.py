"""Gamma market objects → ``GammaMarket`` rows (polymarket_api.md §1.3).

Owns the outcome → id mapping that the old system got wrong: ``outcomes``, ``outcomePrices`` and the outcome
ids share an index. Yes/No markets are mapped by name (``["No", "Yes"]`` exists); other binary markets
(Up/Down, team names) map index 0 to the ``yes_*`` columns and keep their real names; markets with more than
two outcomes are marked ``multi`` and get no yes/no columns at all.

Owns, too, the choice of the outcome id field by protocol ``version`` (polymarket_api.md §9.6): ``"v2"``
markets trade under ``positionIds`` (a real array; a JSON string is accepted), ``"v1"`` markets under
``clobTokenIds`` (a JSON-encoded string), whichever other field is present. A market without ``version`` is a
legacy v1 market (every real payload of 2024-26 has none) unless it carries ``positionIds``, which leaves the
choice ambiguous; that and any other version are quarantined with the reason.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from polymarket_assets.lib.errors import ParseError
from polymarket_assets.lib.fees import FeeSchedule, parse_fee_schedule
from polymarket_assets.lib.parse_common import (
    datetime_in_window,
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

if TYPE_CHECKING:
    from collections.abc import Sequence

V1, V2 = "v1", "v2"
VERSIONS = (V1, V2)
# The Gamma field that holds the outcome ids, by protocol version.
ID_FIELD = {V1: "clobTokenIds", V2: "positionIds"}

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
    # The ids the market trades under (CLOB asset ids), chosen by version; () when it has none yet.
    token_ids: tuple[str, ...]
    version: str | None  # as sent; None on legacy markets
    clob_token_ids_raw: str | None  # `clobTokenIds` and `positionIds` as sent (JSON text), whichever is used
    position_ids_raw: str | None
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
        return self._price_of(self.yes_outcome)

    @property
    def no_price(self) -> float | None:
        return self._price_of(self.no_outcome)

    def _price_of(self, outcome: str | None) -> float | None:
        if outcome is None:
            return None
        return self.outcome_prices[self.outcomes.index(outcome)]


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


def protocol_version(obj: dict) -> str:
    """``v1`` or ``v2``: the version the market says, or ``v1`` for a legacy market without the field."""
    version = obj.get("version")
    if version is None:
        if json_list(obj.get("positionIds"), "positionIds"):
            raise ParseError("version missing but positionIds present: cannot choose the outcome id field")
        return V1
    if version not in VERSIONS:
        raise ParseError(f"unknown version {str(version)[:40]!r} (expected 'v1' or 'v2')")
    return version


def _token_ids(obj: dict, version: str, n: int) -> tuple[str, ...]:
    field = ID_FIELD[version]
    raw = json_list(obj.get(field), field)
    if raw is None or raw == []:
        other = ID_FIELD[V1 if version == V2 else V2]
        if json_list(obj.get(other), other):
            raise ParseError(
                f"version {version} market has no {field} (only {other}, which {version} does not use)"
            )
        return ()
    if len(raw) != n:
        raise ParseError(f"{field} has {len(raw)} entries but outcomes has {n}")
    ids = tuple(to_token_id(t, f"{field}[]") for t in raw)
    if len(set(ids)) != len(ids):
        raise ParseError(f"{field} contain duplicates")
    return ids


def _raw_json(value: Any) -> str | None:
    """An id field as sent, as JSON text (``positionIds`` arrives as a real array)."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


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


def map_binary(outcomes: Sequence[str]) -> tuple[str, int | None, int | None]:
    """(kind, yes_index, no_index) for the outcome → id mapping: by name for Yes/No markets."""
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
    version = protocol_version(obj)
    token_ids = _token_ids(obj, version, n)
    prices = _outcome_prices(obj, n)
    kind, yes_i, no_i = map_binary(outcomes)
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
        version=obj.get("version"),
        clob_token_ids_raw=_raw_json(obj.get("clobTokenIds")),
        position_ids_raw=_raw_json(obj.get("positionIds")),
        outcome_prices=prices,
        yes_token_id=token_ids[yes_i] if token_ids and yes_i is not None else None,
        no_token_id=token_ids[no_i] if token_ids and no_i is not None else None,
        yes_outcome=outcomes[yes_i] if yes_i is not None else None,
        no_outcome=outcomes[no_i] if no_i is not None else None,
        outcome_kind=kind,
        end_date=to_datetime(obj.get("endDate"), "endDate"),
        start_date=to_datetime(obj.get("startDate"), "startDate"),
        created_at=_observed_at(obj.get("createdAt"), "createdAt"),
        updated_at=_observed_at(obj.get("updatedAt"), "updatedAt"),
        closed_time=_observed_at(obj.get("closedTime"), "closedTime"),
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
        volume=to_nonneg(obj.get("volume"), "volume"),
        volume_num=to_nonneg(obj.get("volumeNum"), "volumeNum"),
        volume_24h=to_nonneg(obj.get("volume24hr"), "volume24hr"),
        volume_1wk=to_nonneg(obj.get("volume1wk"), "volume1wk"),
        liquidity=to_nonneg(liquidity, "liquidity"),
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
    return {
        "fees_enabled": enabled,
        "fee_type": to_str(obj.get("feeType"), "feeType"),
        "fee_schedule": schedule,
    }


def _observed_at(value: Any, field: str) -> datetime | None:
    """A time Gamma observed (creation, update, close) is held to the time contract's window. ``endDate`` and
    ``startDate`` are schedules, not observations, and legitimately lie years ahead (``2500-...`` occurs)."""
    return datetime_in_window(to_datetime(value, field), field)


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
