"""Which markets the recorder subscribes, and on which connection each one sits.

Markets come from the lake table ``markets_current`` (written hourly by the ``markets`` asset). Tiers are
recomputed at each refresh from ``end_date`` with ``polymarket_assets.lib.tiers.assign_tier``, since a market
moves from T1 to T2 long before discovery runs again. Every market of ``always_tiers`` is subscribed; others
fill what is left of the connection budget in the plan's ``ws_fill_order`` (tiers nearest to close first, the
stale tier last), each nearest to closing first. Both tokens of a market always sit on
the same connection (one ``price_change`` carries both), and a market never moves between connections once
placed, so a refresh costs only the subscribe/unsubscribe operations of what changed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from polymarket_assets.lib import tables
from polymarket_assets.lib.parquet_store import Lake
from polymarket_assets.lib.tiers import DEFAULT_PLAN, assign_tier

log = logging.getLogger(__name__)

# The tier of a market known only from a websocket `new_market` event (discovery has not listed it yet).
WS_NEW = "WS_NEW"
# Order in which tiers outside the always-set fill the budget.
FILL_ORDER = DEFAULT_PLAN.ws_fill_order
_COLUMNS = ["condition_id", "yes_token_id", "no_token_id", "end_date", "discovery_status"]


@dataclass(frozen=True)
class Market:
    condition_id: str
    yes_token_id: str
    no_token_id: str
    end_ts: float | None  # epoch seconds
    tier: str

    @property
    def tokens(self) -> tuple[str, str]:
        return (self.yes_token_id, self.no_token_id)


class MarketsUnreadable(Exception):
    """``markets_current`` could not be read this time: not the same as "no markets" (see ``Recorder.refresh``)."""


def load_markets(data_dir, now: datetime) -> list[Market] | None:
    """Open markets of ``markets_current`` with their tier at ``now``; None when discovery has not run yet.

    Raises ``MarketsUnreadable`` when the table exists but a read fails (a disk or object-store error, a bad
    file), so that the caller can keep what it subscribes instead of taking the failure for an empty universe.
    """
    try:
        table = Lake(data_dir).read(tables.MARKETS_CURRENT.name, columns=_COLUMNS)
    except (OSError, ValueError, KeyError) as exc:
        raise MarketsUnreadable(f"{type(exc).__name__}: {exc}") from exc
    if table is None:
        return None
    out = []
    for row in table.to_pylist():
        if row.get("discovery_status") != "open":
            continue
        yes, no, cid = row.get("yes_token_id"), row.get("no_token_id"), row.get("condition_id")
        if not (yes and no and cid):
            continue
        end = row.get("end_date")
        out.append(Market(cid, yes, no, end.timestamp() if end else None, assign_tier(end, now)))
    return out


def select(
    markets: list[Market],
    *,
    always_tiers,
    capacity_markets: int,
    fill_budget: bool,
    exclude: set[str] = frozenset(),
) -> list[Market]:
    """The markets to subscribe, always-tiers first, then the fill order, each nearest to closing first."""
    seen: set[str] = set()
    always, others = [], []
    for m in markets:
        if m.condition_id in exclude or m.condition_id in seen:
            continue
        seen.add(m.condition_id)
        (always if m.tier in always_tiers else others).append(m)

    def closing(m: Market) -> tuple:
        rank = FILL_ORDER.index(m.tier) if m.tier in FILL_ORDER else len(FILL_ORDER)
        return (rank, m.end_ts if m.end_ts is not None else float("inf"), m.condition_id)

    always.sort(key=lambda m: (m.end_ts if m.end_ts is not None else float("inf"), m.condition_id))
    if not fill_budget:
        return always
    room = max(0, capacity_markets - len(always))
    others.sort(key=closing)
    return always + others[:room]


class ShardPlan:
    """Sticky placement of markets on connections of at most ``assets_per_connection`` assets."""

    def __init__(self, assets_per_connection: int):
        self.markets_per_shard = max(1, assets_per_connection // 2)
        self.assignment: dict[str, int] = {}
        self.markets: dict[str, Market] = {}

    def update(self, selected: list[Market]) -> dict[int, dict[str, Market]]:
        wanted = {m.condition_id: m for m in selected}
        for cid in [c for c in self.assignment if c not in wanted]:
            del self.assignment[cid]
            self.markets.pop(cid, None)
        load: dict[int, int] = {}
        for shard in self.assignment.values():
            load[shard] = load.get(shard, 0) + 1
        for m in selected:
            self.markets[m.condition_id] = m
            if m.condition_id in self.assignment:
                continue
            shard = next((s for s in sorted(load) if load[s] < self.markets_per_shard), None)
            if shard is None:
                shard = next(i for i in range(len(load) + 1) if i not in load)
                load[shard] = 0
            self.assignment[m.condition_id] = shard
            load[shard] += 1
        shards: dict[int, dict[str, Market]] = {}
        for cid, shard in self.assignment.items():
            shards.setdefault(shard, {})[cid] = self.markets[cid]
        return shards


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)
