"""Coverage: the share of (market, scheduled instant) pairs that got a snapshot row, per tier and hour.

The expected pairs are recomputed from discovery's own record (`market_states`), independently of whether
a snapshot run launched at all: a slot whose run never started counts as missed, not as absent. A missed pair
whose instant falls in a planned restart of the exchange (its CLOB answered HTTP 425, polymarket_api.md §9.8)
is counted apart, as `missed_planned_restart`, and left out of the coverage ratio: the miss is recorded, but it
is the exchange's downtime, not a collection failure.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from datetime import datetime

from polymarket_assets.lib.tiers import DEFAULT_PLAN, TierPlan, assign_tier, instants_in_window


def expected_pairs(
    market_states: list[dict], start: datetime, end: datetime, plan: TierPlan = DEFAULT_PLAN
) -> dict[str, set[tuple[str, datetime]]]:
    """Per tier, the (condition_id, instant) pairs the tier plan scheduled in [start, end).

    Each instant uses the latest discovery observation at or before it.
    """
    batches: dict[datetime, list[dict]] = defaultdict(list)
    for row in market_states:
        if row.get("yes_token_id") and row.get("no_token_id"):
            batches[row["observed_at"]].append(row)
    times = sorted(batches)
    out: dict[str, set[tuple[str, datetime]]] = {tier.name: set() for tier in plan.tiers}
    if not times:
        return out
    for tier in plan.tiers:
        for instant in instants_in_window(tier, start, end):
            index = bisect_right(times, instant) - 1
            if index < 0:
                continue
            for row in batches[times[index]]:
                if assign_tier(row.get("end_date"), instant, plan) == tier.name:
                    out[tier.name].add((row["condition_id"], instant))
    return out


def coverage_rows(
    expected: dict[str, set[tuple[str, datetime]]],
    captured: dict[str, set[tuple[str, datetime]]],
    hour: datetime,
    computed_at: datetime,
    planned_restarts: list[tuple[datetime, datetime]] = (),
) -> list[dict]:
    rows = []
    for tier, pairs in expected.items():
        got = pairs & captured.get(tier, set())
        instants = {instant for _, instant in pairs}
        missed = pairs - got
        excused = {(cid, instant) for cid, instant in missed if any(s <= instant <= e for s, e in planned_restarts)}
        counted = len(pairs) - len(excused)
        rows.append(
            {
                "tier": tier,
                "hour_start": hour,
                "expected": len(pairs),
                "captured": len(got),
                "coverage": (len(got) / counted) if counted else None,
                "instants": len(instants),
                "instants_with_misses": len({instant for _, instant in missed - excused}),
                "computed_at": computed_at,
                "missed_planned_restart": len(excused),
            }
        )
    return rows
