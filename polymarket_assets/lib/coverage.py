"""Coverage: the share of (market, scheduled instant) pairs that got a snapshot row, per tier and hour.

The expected pairs are recomputed from discovery's own record (`market_states`), independently of whether
a snapshot run launched at all: a slot whose run never started counts as missed, not as absent. A missed pair
whose instant falls in a planned restart of the exchange (its CLOB answered HTTP 425, polymarket_api.md §9.8)
is counted apart, as `missed_planned_restart`, and left out of the coverage ratio: the miss is recorded, but it
is the exchange's downtime, not a collection failure.

Only instants that are over count: an hour still under way is measured up to `IN_FLIGHT` before now (a sweep
due a moment ago may still be writing), and its rows say `in_progress`.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from polymarket_assets.lib.incoming import PLANNED_RESTART
from polymarket_assets.lib.tiers import (
    DEFAULT_PLAN,
    TierPlan,
    TierSpec,
    assign_tier,
    instants_in_window,
    transitions_between,
)

if TYPE_CHECKING:
    from polymarket_assets.lib.parquet_store import Lake

# A sweep due less than this long ago may still be writing its rows: not counted yet.
IN_FLIGHT = timedelta(minutes=2)
# The hour's instants use the latest discovery at or before them, which may be a few hours older.
DISCOVERY_LOOKBACK_HOURS = 4


def expected_pairs(
    market_states: list[dict], start: datetime, end: datetime, plan: TierPlan = DEFAULT_PLAN
) -> dict[str, set[tuple[str, datetime]]]:
    """Per tier, the (condition_id, instant) pairs the tier plan scheduled in [start, end).

    Each instant uses the latest discovery observation at or before it. A market's tier changes only at the
    exact instants `transitions_between` gives, so each market is cut into spans of one tier and only that
    tier's instants inside each span are listed: the work is the pairs, not instants x markets.
    """
    batches: dict[datetime, list[dict]] = defaultdict(list)
    for row in market_states:
        if row.get("yes_token_id") and row.get("no_token_id"):
            batches[row["observed_at"]].append(row)
    times = sorted(batches)
    out: dict[str, set[tuple[str, datetime]]] = {tier.name: set() for tier in plan.tiers}
    seen: set[str] = set()
    for index, observed in enumerate(times):
        # The instants that use this discovery: from it (or `start`) until the next one (or `end`).
        lo = max(start, observed)
        hi = min(end, times[index + 1]) if index + 1 < len(times) else end
        first_sightings = {row["condition_id"] for row in batches[observed]} - seen
        seen |= first_sightings
        if lo >= hi:
            continue
        for row in batches[observed]:
            end_date = row.get("end_date")
            span_start, tier = lo, assign_tier(end_date, lo, plan)
            # A market a discovery lists for the first time can be swept from the first slot whose run can know it
            # (first_sweepable_slot), not before: a new market's first minute after an hourly discovery, and every
            # market's right after a deployment's first discovery.
            first = observed if row["condition_id"] in first_sightings else None
            for instant, _, new_tier, _ in transitions_between(end_date, lo, hi, plan):
                _add_span(out[tier], row["condition_id"], plan.by_name(tier), span_start, instant, first)
                span_start, tier = instant, new_tier
            _add_span(out[tier], row["condition_id"], plan.by_name(tier), span_start, hi, first)
    return out


# How long a discovery run may take to publish what it observed at `observed_at` (markets_current is written at
# its end, and slot runs read it just before their slot).
DISCOVERY_PUBLISH_S = 60


def first_sweepable_slot(first_sighting: datetime, tier: TierSpec) -> datetime:
    """The first slot of `tier` whose run can know a market first listed by a discovery at `first_sighting`."""
    ready = int(first_sighting.timestamp()) + DISCOVERY_PUBLISH_S
    return datetime.fromtimestamp(-(-ready // tier.slot_s) * tier.slot_s, first_sighting.tzinfo)


def _add_span(
    pairs: set,
    condition_id: str,
    tier: TierSpec,
    start: datetime,
    end: datetime,
    first_sighting: datetime | None = None,
) -> None:
    if first_sighting is not None:
        start = max(start, first_sweepable_slot(first_sighting, tier))
    for instant in instants_in_window(tier, start, end):
        pairs.add((condition_id, instant))


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
        excused = {
            (cid, instant) for cid, instant in missed if any(s <= instant <= e for s, e in planned_restarts)
        }
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


def _parts(hour: datetime) -> dict[str, str]:
    return {"date": hour.strftime("%Y-%m-%d"), "hour": hour.strftime("%H")}


def measured_until(hour: datetime, now: datetime) -> datetime:
    """The end of the part of `hour` that is over: the hour's end, or `IN_FLIGHT` before now."""
    return max(hour, min(hour + timedelta(hours=1), now - IN_FLIGHT))


def planned_restart_windows(lake: Lake, hour: datetime) -> list[tuple[datetime, datetime]]:
    """(start, end) of the exchange's planned restarts the recorder saw (`ws_gaps` reason planned_restart) that can
    touch the hour starting at `hour`: gaps are filed by their start hour, and a restart lasts minutes."""
    windows = []
    for offset in (-1, 0, 1):
        table = lake.read(
            "ws_gaps", _parts(hour + timedelta(hours=offset)), columns=["reason", "start_ts", "end_ts"]
        )
        if table is not None:
            windows += [
                (r["start_ts"], r["end_ts"]) for r in table.to_pylist() if r["reason"] == PLANNED_RESTART
            ]
    return windows


def measure_hour(lake: Lake, hour: datetime, now: datetime, plan: TierPlan = DEFAULT_PLAN) -> list[dict]:
    """Coverage rows (one per tier) of the hour starting at `hour`, from the lake, counting only the instants before
    `measured_until(hour, now)`. Each row carries `in_progress` (the hour is not over) and `measured_until`; pairs
    missed inside a planned restart of the exchange are counted as `missed_planned_restart`, not against coverage."""
    until = measured_until(hour, now)
    states: list[dict] = []
    for back in range(DISCOVERY_LOOKBACK_HOURS):
        table = lake.read("market_states", _parts(hour - timedelta(hours=back)))
        if table is not None:
            states.extend(
                table.select(
                    ["observed_at", "condition_id", "end_date", "yes_token_id", "no_token_id"]
                ).to_pylist()
            )
    states = [s for s in states if s["observed_at"] < until]
    expected = expected_pairs(states, hour, until, plan)
    captured: dict[str, set] = {}
    for tier in plan.tiers:
        table = lake.read(
            "snapshots", {"tier": tier.name, **_parts(hour)}, columns=["condition_id", "slot_ts"]
        )
        if table is not None:
            captured[tier.name] = set(
                zip(table.column("condition_id").to_pylist(), table.column("slot_ts").to_pylist())
            )
    rows = coverage_rows(expected, captured, hour, now, planned_restart_windows(lake, hour))
    in_progress = now < hour + timedelta(hours=1)
    for row in rows:
        row["in_progress"] = in_progress
        row["measured_until"] = until
    return rows
