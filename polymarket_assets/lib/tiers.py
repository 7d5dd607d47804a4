"""Tiers: how often a market is snapshotted, decided by the hours left to its `endDate`.

Owns the tier table of DESIGN.md (every number configurable), tier assignment at an instant, the scheduled
instants inside a run's slot, and the exact moments a market crosses from one tier to the next. Everything
kept per tier elsewhere (snapshot assets, jobs, schedules, checks, coverage, health, warehouse and ML deps,
the websocket recorder's choice of markets) is derived from `DEFAULT_PLAN`, so adding a tier is one edit here.
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
    # The websocket recorder subscribes every market of this tier; other tiers only fill its spare budget.
    ws_always: bool = False
    # The tier of markets still unresolved `TierPlan.stale_after_hours` past endDate (its hours are unused).
    stale: bool = False

    @property
    def sweeps_per_slot(self) -> int:
        return max(1, self.slot_s // self.interval_s)

    @property
    def asset_name(self) -> str:
        """The tier's snapshot asset (`snapshots_t0`); its job and schedule add `_job` and `_schedule`."""
        return f"snapshots_{self.name.lower()}"


@dataclass(frozen=True)
class TierPlan:
    tiers: tuple[TierSpec, ...]
    # A market more than this far past endDate and still unresolved leaves the last tier for the stale one.
    stale_after_hours: float = 24.0

    def __post_init__(self):
        names = [t.asset_name for t in self.tiers]
        if len(set(names)) != len(names):
            raise ValueError(f"tier names must differ (case-insensitively): {self.names}")
        if sum(t.stale for t in self.tiers) > 1:
            raise ValueError("at most one tier may be the stale tier")

    def by_name(self, name: str) -> TierSpec:
        for tier in self.tiers:
            if tier.name == name:
                return tier
        raise KeyError(name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tiers)

    @property
    def asset_names(self) -> tuple[str, ...]:
        """Every tier's snapshot asset, in plan order."""
        return tuple(t.asset_name for t in self.tiers)

    @property
    def live(self) -> tuple[TierSpec, ...]:
        """The tiers chosen by hours to close, i.e. all but the stale tier, in plan order."""
        return tuple(t for t in self.tiers if not t.stale)

    @property
    def stale_tier(self) -> TierSpec | None:
        return next((t for t in self.tiers if t.stale), None)

    def names_beyond(self, hours: float) -> tuple[str, ...]:
        """The live tiers whose markets are all more than `hours` from close."""
        return tuple(t.name for t in self.live if t.min_hours >= hours)

    def names_within(self, hours: float) -> tuple[str, ...]:
        """The live tiers whose markets are all at most `hours` from close (or past it)."""
        return tuple(t.name for t in self.live if t.max_hours <= hours)

    @property
    def ws_always_tiers(self) -> tuple[str, ...]:
        """The tiers whose every market the websocket recorder subscribes (its `WS_ALWAYS_TIERS` default)."""
        return tuple(t.name for t in self.tiers if t.ws_always)

    @property
    def ws_fill_order(self) -> tuple[str, ...]:
        """The order in which the other tiers fill the recorder's spare budget: nearest to close first, stale
        last."""
        others = sorted((t for t in self.live if not t.ws_always), key=lambda t: t.max_hours)
        return tuple(t.name for t in others) + tuple(t.name for t in self.tiers if t.stale)

    @property
    def instants_per_hour(self) -> int:
        """Scheduled instants an hour over all tiers (each tier sweeps whether or not it holds markets)."""
        return sum(round(HOUR / t.interval_s) for t in self.tiers)


DEFAULT_PLAN = TierPlan(
    tiers=(
        TierSpec("T0", 48.0, float("inf"), 3600, books=False, tolerance_s=60.0, slot_s=3600),
        TierSpec("T1", 12.0, 48.0, 300, books=False, tolerance_s=30.0, slot_s=300),
        TierSpec("T2", 4.0, 12.0, 60, books=True, tolerance_s=10.0, slot_s=60, ws_always=True),
        TierSpec("T3", 1.0, 4.0, 30, books=True, tolerance_s=7.5, slot_s=60, ws_always=True),
        # T4 also holds markets past endDate (negative hours) until they go stale.
        TierSpec("T4", float("-inf"), 1.0, 15, books=True, tolerance_s=5.0, slot_s=60, ws_always=True),
        TierSpec(
            "STALE",
            float("-inf"),
            float("-inf"),
            3600,
            books=False,
            tolerance_s=60.0,
            slot_s=3600,
            stale=True,
        ),
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
    stale = plan.stale_tier
    if stale is not None and hours <= -plan.stale_after_hours:
        return stale.name
    for tier in plan.live:
        if tier.min_hours < hours <= tier.max_hours or (
            tier.min_hours == float("-inf") and hours <= tier.max_hours
        ):
            return tier.name
    return plan.tiers[0].name


def boundaries(plan: TierPlan = DEFAULT_PLAN) -> list[float]:
    """Hours-to-close values at which a market changes tier, descending (48, 12, 4, 1, -stale)."""
    cuts = sorted({t.min_hours for t in plan.live if t.min_hours != float("-inf")}, reverse=True)
    return cuts + ([-plan.stale_after_hours] if plan.stale_tier is not None else [])


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
