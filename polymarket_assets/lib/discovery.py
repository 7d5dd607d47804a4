"""Market discovery bookkeeping, without Dagster: state rows, the current-state merge and tier transitions.

Discovery sees only open markets. A market that drops out of the open listing is kept in the current table
as `gone` (closed, not necessarily resolved) until its resolution is final, so the resolution check can
keep watching it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from polymarket_assets.lib.errors import ParseError
from polymarket_assets.lib.fees import schedule_columns
from polymarket_assets.lib.parse_gamma import parse_gamma_market
from polymarket_assets.lib.tiers import (
    DEFAULT_PLAN,
    TierPlan,
    assign_tier,
    hours_to_close,
    transitions_between,
)

if TYPE_CHECKING:
    from polymarket_assets.lib.gamma import GammaClient
    from polymarket_assets.lib.parse_gamma import GammaMarket
    from polymarket_assets.lib.quarantine import Quarantine
    from polymarket_assets.lib.raw_archive import RawArchive

OPEN, GONE = "open", "gone"
# Markets gone from discovery with a final label are dropped from the current table after this long.
PRUNE_FINAL_AFTER = timedelta(days=2)


@dataclass
class Listing:
    """What one discovery pass saw: parsed open markets by condition id, the ids of markets whose record
    could not be parsed (quarantined; they keep their last state), pages read, and the lister's report."""

    markets: dict = field(default_factory=dict)
    unparsed: set[str] = field(default_factory=set)
    pages: int = 0
    report: dict = field(default_factory=dict)


def list_open_markets(
    gamma: GammaClient, now: datetime, previous: list[dict], quarantine: Quarantine, raw: RawArchive
) -> Listing:
    """Every open market through `gamma.iter_open_markets_partitioned`, with its endDate ranges sized from
    the previous discovery's open markets. Each answer goes to the raw archive as received (its request and
    body, whole even where the listing kept only some of its markets); a record that does not parse, or has
    no conditionId, goes to quarantine with the reason."""
    listing = Listing()
    known_end_dates = [row["end_date"] for row in previous if row.get("discovery_status") == OPEN]
    for page in gamma.iter_open_markets_partitioned(known_end_dates=known_end_dates, report=listing.report):
        listing.pages += 1
        raw.add(now, page.path, page.request, page.body)
        for obj in page:
            try:
                market = parse_gamma_market(obj)
            except ParseError as exc:
                quarantine.add(str(exc), obj, {"page": listing.pages})
                if isinstance(obj, dict) and obj.get("conditionId"):
                    listing.unparsed.add(str(obj["conditionId"]))
                continue
            if not market.condition_id:
                quarantine.add("market without conditionId", obj, {"page": listing.pages})
                continue
            listing.markets[market.condition_id] = market
    listing.unparsed -= set(listing.markets)
    return listing


def market_state_row(market: GammaMarket, observed_at: datetime, plan: TierPlan = DEFAULT_PLAN) -> dict:
    """One `market_states` row from a parsed Gamma market, with its tier at `observed_at`."""
    return {
        "observed_at": observed_at,
        "gamma_id": market.gamma_id,
        "condition_id": market.condition_id,
        "question": market.question,
        "slug": market.slug,
        "outcome_kind": market.outcome_kind,
        "yes_outcome": market.yes_outcome,
        "no_outcome": market.no_outcome,
        "yes_token_id": market.yes_token_id,
        "no_token_id": market.no_token_id,
        "outcomes": json.dumps(list(market.outcomes)),
        "version": market.version,
        "clob_token_ids": market.clob_token_ids_raw,
        "position_ids": market.position_ids_raw,
        "yes_price": market.yes_price,
        "no_price": market.no_price,
        "start_date": market.start_date,
        "end_date": market.end_date,
        "created_at": market.created_at,
        "closed_time": market.closed_time,
        "active": market.active,
        "closed": market.closed,
        "archived": market.archived,
        "accepting_orders": market.accepting_orders,
        "neg_risk": market.neg_risk,
        "neg_risk_market_id": market.neg_risk_market_id,
        "event_id": market.event_id,
        "event_slug": market.event_slug,
        "event_title": market.event_title,
        "category": market.category,
        "volume": market.volume_num if market.volume_num is not None else market.volume,
        "volume_24h": market.volume_24h,
        "volume_1wk": market.volume_1wk,
        "liquidity": market.liquidity,
        "best_bid": market.best_bid,
        "best_ask": market.best_ask,
        "last_trade_price": market.last_trade_price,
        "spread": market.spread,
        "one_day_price_change": market.one_day_price_change,
        "one_week_price_change": market.one_week_price_change,
        "uma_resolution_status": market.uma_resolution_status,
        "tick_size": market.tick_size,
        "min_order_size": market.min_order_size,
        "tier": assign_tier(market.end_date, observed_at, plan),
        "hours_to_close": hours_to_close(market.end_date, observed_at),
        **schedule_columns(market.fees_enabled, market.fee_type, market.fee_schedule),
    }


def merge_current(
    previous: list[dict],
    observed: list[dict],
    observed_at: datetime,
    final_condition_ids: set[str] | None = None,
    unparsed_condition_ids: set[str] | None = None,
) -> tuple[list[dict], list[str], list[str]]:
    """The new current table, the condition ids first seen now, and those that left the open listing now.

    A market listed this time but quarantined (`unparsed_condition_ids`) keeps its previous row: bad input
    for one market must not make it look closed.
    """
    final_condition_ids = final_condition_ids or set()
    unparsed = unparsed_condition_ids or set()
    prev_by_id = {row["condition_id"]: row for row in previous}
    current: list[dict] = []
    new_ids: list[str] = []
    seen: set[str] = set()
    for row in observed:
        cid = row["condition_id"]
        seen.add(cid)
        before = prev_by_id.get(cid)
        if before is None:
            new_ids.append(cid)
        current.append(
            {
                **row,
                "first_seen_at": before["first_seen_at"] if before else observed_at,
                "last_seen_open_at": observed_at,
                "discovery_status": OPEN,
            }
        )
    gone_ids: list[str] = []
    for cid, before in prev_by_id.items():
        if cid in seen:
            continue
        if cid in unparsed:
            current.append(dict(before))
            continue
        if before["discovery_status"] == OPEN:
            gone_ids.append(cid)
        last_seen = before["last_seen_open_at"]
        if (
            cid in final_condition_ids
            and last_seen is not None
            and observed_at - last_seen > PRUNE_FINAL_AFTER
        ):
            continue
        current.append({**before, "discovery_status": GONE, "tier": None})
    return current, new_ids, gone_ids


def tier_transitions(
    previous: list[dict],
    observed: list[dict],
    observed_at: datetime,
    plan: TierPlan = DEFAULT_PLAN,
    unparsed_condition_ids: set[str] | None = None,
) -> list[dict]:
    """Every tier change since the previous discovery, at the exact instant it happened.

    A market first seen enters its tier now (old tier `NEW`); a market that left the open listing leaves
    its last tier now (new tier `CLOSED`).
    """
    prev_by_id = {row["condition_id"]: row for row in previous if row["discovery_status"] == OPEN}
    out: list[dict] = []
    seen = set()
    for row in observed:
        cid = row["condition_id"]
        seen.add(cid)
        before = prev_by_id.get(cid)
        if before is None:
            out.append(_transition(cid, "NEW", row["tier"], observed_at, row["hours_to_close"], observed_at))
            continue
        for instant, old, new, hours in transitions_between(
            row["end_date"], before["observed_at"], observed_at, plan
        ):
            out.append(_transition(cid, old, new, instant, hours, observed_at))
    for cid, before in prev_by_id.items():
        if cid not in seen and cid not in (unparsed_condition_ids or set()):
            hours = hours_to_close(before["end_date"], observed_at)
            last_tier = assign_tier(before["end_date"], observed_at, plan)
            out.append(_transition(cid, last_tier, "CLOSED", observed_at, hours, observed_at))
    return out


def _transition(
    cid: str, old: str, new: str, at: datetime, hours: float | None, observed_at: datetime
) -> dict:
    return {
        "condition_id": cid,
        "old_tier": old,
        "new_tier": new,
        "transition_at": at,
        "hours_to_close": hours,
        "observed_at": observed_at,
    }
