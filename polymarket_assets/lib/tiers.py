"""Tiers: how often a market is snapshotted, decided by the hours left to its `endDate`.

Owns the tier table of DESIGN.md (every number configurable), tier assignment at an instant, the scheduled
instants inside a run's slot, and the exact moments a market crosses from one tier to the next.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

HOUR = 3600.0


@dataclass(frozen=True)
class TierSpec:
    """One tier: markets whose hours to `endDate` lie in (min_hours, max_hours] are swept every interval_s."""

    name: str
    min_hours: float
    max_hours: float
    interval_s: int
    books: bool
    # A sweep later than this after its scheduled instant is recorded as missed, never backdated.
    tolerance_s: float
    # How much of the timeline one scheduled run covers (cron is minute-grained).
    slot_s: int

    @property
    def sweeps_per_slot(self) -> int:
        return max(1, self.slot_s // self.interval_s)


@dataclass(frozen=True)
class TierPlan:
    tiers: tuple[TierSpec, ...]
    # A market more than this far past endDate and still unresolved leaves T4 for the stale cadence.
    stale_after_hours: float = 24.0

    def by_name(self, name: str) -> TierSpec:
        for tier in self.tiers:
            if tier.name == name:
                return tier
        raise KeyError(name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tiers)


DEFAULT_PLAN = TierPlan(
    tiers=(
        TierSpec("T0", 48.0, float("inf"), 3600, books=False, tolerance_s=60.0, slot_s=3600),
        TierSpec("T1", 12.0, 48.0, 300, books=False, tolerance_s=30.0, slot_s=300),
        TierSpec("T2", 4.0, 12.0, 60, books=True, tolerance_s=10.0, slot_s=60),
        TierSpec("T3", 1.0, 4.0, 30, books=True, tolerance_s=7.5, slot_s=60),
        # T4 also holds markets past endDate (negative hours) until they go stale.
        TierSpec("T4", float("-inf"), 1.0, 15, books=True, tolerance_s=5.0, slot_s=60),
        TierSpec("STALE", float("-inf"), float("-inf"), 3600, books=False, tolerance_s=60.0, slot_s=3600),
    )
)


def hours_to_close(end_date: datetime | None, at: datetime) -> float | None:
    if end_date is None:
        return None
    return (end_date - at).total_seconds() / HOUR


def assign_tier(end_date: datetime | None, at: datetime, plan: TierPlan = DEFAULT_PLAN) -> str:
    """The tier of an unresolved market at instant `at`. A market without an end date is swept as T0."""
    hours = hours_to_close(end_date, at)
    if hours is None:
        return plan.tiers[0].name
    if hours <= -plan.stale_after_hours:
        return "STALE"
    for tier in plan.tiers:
        if tier.name == "STALE":
            continue
        if tier.min_hours < hours <= tier.max_hours or (tier.min_hours == float("-inf") and hours <= tier.max_hours):
            return tier.name
    return plan.tiers[0].name


def boundaries(plan: TierPlan = DEFAULT_PLAN) -> list[float]:
    """Hours-to-close values at which a market changes tier, descending (48, 12, 4, 1, -stale)."""
    cuts = sorted({t.min_hours for t in plan.tiers if t.min_hours not in (float("-inf"),)}, reverse=True)
    return cuts + [-plan.stale_after_hours]


def transitions_between(
    end_date: datetime | None, since: datetime, until: datetime, plan: TierPlan = DEFAULT_PLAN
) -> list[tuple[datetime, str, str, float]]:
    """Every tier change in (since, until]: (exact instant, old tier, new tier, hours_to_close at the change).

    Tiers depend only on the clock and endDate, so the crossing instant is exact even when it is noticed
    later (discovery runs hourly).
    """
    if end_date is None or until <= since:
        return []
    changes = []
    for cut in boundaries(plan):
        instant = end_date - timedelta(hours=cut)
        if since < instant <= until:
            before = assign_tier(end_date, instant - timedelta(microseconds=1), plan)
            after = assign_tier(end_date, instant, plan)
            if before != after:
                changes.append((instant, before, after, cut))
    changes.sort(key=lambda c: c[0])
    return changes


def slot_instants(tier: TierSpec, slot_start: datetime) -> list[datetime]:
    """The scheduled instants a run for the slot starting at `slot_start` must sweep at."""
    return [slot_start + timedelta(seconds=i * tier.interval_s) for i in range(tier.sweeps_per_slot)]


def instants_in_window(tier: TierSpec, start: datetime, end: datetime) -> list[datetime]:
    """All scheduled instants of a tier in [start, end), aligned to the epoch on the tier's interval."""
    epoch = int(start.timestamp())
    first = epoch + (-epoch) % tier.interval_s
    out = []
    t = first
    stop = end.timestamp()
    while t < stop:
        out.append(datetime.fromtimestamp(t, tz=start.tzinfo))
        t += tier.interval_s
    return out
