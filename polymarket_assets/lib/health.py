""" "Is collection healthy right now?": the figures, measured from the lake and the recorder's status file.

Without Dagster: `measure_health` returns plain numbers (None when a figure cannot be measured, e.g. no
recorder has ever run), and `verdicts` compares them with `HealthThresholds`. The `collection_health` asset
(`defs/health/assets.py`) records both every few minutes.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import pyarrow.compute as pc

from polymarket_assets.lib.coverage import measure_hour
from polymarket_assets.lib.health_thresholds import HealthThresholds, setting_name
from polymarket_assets.lib.parquet_store import Lake
from polymarket_assets.lib.tiers import DEFAULT_PLAN

if TYPE_CHECKING:
    from collections.abc import Iterable

HOUR = timedelta(hours=1)
DISCOVERY_LOOKBACK_HOURS = 6
# A sweep-log entry is "lost" when no attempt at its instant captured anything.
LOST = ("missed", "failed")


def _parts(hour: datetime) -> dict[str, str]:
    return {"date": hour.strftime("%Y-%m-%d"), "hour": hour.strftime("%H")}


def _min(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return min(present) if present else None


def coverage_by_tier(lake: Lake, hour: datetime, now: datetime) -> dict[str, float | None]:
    """Per tier, the share of the hour's scheduled pairs captured so far (None: nothing was scheduled)."""
    return {row["tier"]: row["coverage"] for row in measure_hour(lake, hour, now)}


def lost_sweeps(lake: Lake, hour: datetime, now: datetime) -> int:
    """Instants of the hour (before now) whose every sweep attempt was missed or failed, over all tiers."""
    attempts: dict[tuple[str, datetime], set[str]] = {}
    for tier in DEFAULT_PLAN.tiers:
        table = lake.read("sweeps", {"tier": tier.name, **_parts(hour)}, columns=["slot_ts", "status"])
        if table is None:
            continue
        for slot_ts, status in zip(table.column("slot_ts").to_pylist(), table.column("status").to_pylist()):
            if slot_ts <= now:
                attempts.setdefault((tier.name, slot_ts), set()).add(status)
    return sum(1 for statuses in attempts.values() if statuses <= set(LOST))


def last_discovery(lake: Lake, now: datetime) -> datetime | None:
    """The newest `market_states.observed_at` at or before now, looking back a few hours."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    for back in range(DISCOVERY_LOOKBACK_HOURS):
        table = lake.read("market_states", _parts(hour - back * HOUR), columns=["observed_at"])
        if table is not None and table.num_rows:
            column = table.column("observed_at")
            newest = pc.max(column.filter(pc.less_equal(column, now))).as_py()
            if newest is not None:
                return newest
    return None


def gaps_by_hour(gap_minutes: dict[str, float], now: datetime) -> tuple[float, float]:
    """(last complete hour, current hour so far) from minutes keyed by hourly partition key."""
    current = now.replace(minute=0, second=0, microsecond=0)
    return gap_minutes.get(_key(current - HOUR), 0.0), gap_minutes.get(_key(current), 0.0)


def _key(hour: datetime) -> str:
    return hour.strftime("%Y-%m-%d-%H:00")


def recorder_lag_s(status: dict | None, wall_now: float) -> float | None:
    """Seconds since the newest message the recorder is known to have received: the age of its status file plus
    the message age it reported then. None when no recorder ever ran against this lake."""
    if status is None:
        return None
    status_age = max(0.0, wall_now - float(status.get("updated_at_wall", 0.0)))
    return round(status_age + float(status.get("last_message_age_s") or 0.0), 3)


def file_age_s(path: str, wall_now: float) -> float | None:
    try:
        return round(max(0.0, wall_now - os.stat(path).st_mtime), 3)
    except FileNotFoundError:
        return None


@dataclass(frozen=True)
class HealthFigures:
    last_hour: datetime
    coverage_last_hour: dict[str, float | None]
    coverage_current_hour: dict[str, float | None]
    sweeps_lost_last_hour: int
    sweeps_lost_current_hour: int
    recorder_gap_minutes_last_hour: float
    recorder_gap_minutes_current_hour: float
    recorder_lag_s: float | None
    discovery_age_s: float | None
    warehouse_age_s: float | None

    def metadata(self) -> dict[str, float | int | None]:
        """Flat numbers, one per figure, so the UI can plot each over the materializations."""
        out: dict[str, float | int | None] = {
            "coverage_last_hour_min": _min(self.coverage_last_hour.values()),
            "coverage_current_hour_min": _min(self.coverage_current_hour.values()),
        }
        for tier, value in self.coverage_last_hour.items():
            out[f"coverage_last_hour_{tier}"] = value
        for tier, value in self.coverage_current_hour.items():
            out[f"coverage_current_hour_{tier}"] = value
        out.update(
            sweeps_lost_last_hour=self.sweeps_lost_last_hour,
            sweeps_lost_current_hour=self.sweeps_lost_current_hour,
            recorder_gap_minutes_last_hour=self.recorder_gap_minutes_last_hour,
            recorder_gap_minutes_current_hour=self.recorder_gap_minutes_current_hour,
            recorder_lag_s=self.recorder_lag_s,
            discovery_age_s=self.discovery_age_s,
            warehouse_age_s=self.warehouse_age_s,
        )
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in out.items()}


def measure_health(
    lake: Lake,
    now: datetime,
    status: dict | None,
    gap_minutes: dict[str, float],
    warehouse_path: str,
    wall_now: float | None = None,
) -> HealthFigures:
    """Every figure at `now` (the collection clock); ages of files use the wall clock (`wall_now`). `gap_minutes`:
    the recorder's outage minutes by hourly partition key (`recorder_health.gap_minutes_by_hour`)."""
    wall = time.time() if wall_now is None else wall_now
    current = now.replace(minute=0, second=0, microsecond=0)
    previous = current - HOUR
    gap_last, gap_current = gaps_by_hour(gap_minutes, now)
    discovered = last_discovery(lake, now)
    return HealthFigures(
        last_hour=previous,
        coverage_last_hour=coverage_by_tier(lake, previous, now),
        coverage_current_hour=coverage_by_tier(lake, current, now),
        sweeps_lost_last_hour=lost_sweeps(lake, previous, now),
        sweeps_lost_current_hour=lost_sweeps(lake, current, now),
        recorder_gap_minutes_last_hour=gap_last,
        recorder_gap_minutes_current_hour=gap_current,
        recorder_lag_s=recorder_lag_s(status, wall),
        discovery_age_s=round((now - discovered).total_seconds(), 3) if discovered else None,
        warehouse_age_s=file_age_s(warehouse_path, wall),
    )


def _limit(field: str) -> str:
    return f"{setting_name(field)} (default {getattr(HealthThresholds, field)})"


@dataclass(frozen=True)
class Verdict:
    name: str
    passed: bool
    value: float | int | None
    threshold: float | int
    description: str
    detail: str


def verdicts(figures: HealthFigures, limits: HealthThresholds) -> list[Verdict]:
    """One verdict per health check. A figure that cannot be measured (None) fails, except coverage of an hour in
    which nothing was scheduled."""

    def below(tiers: dict[str, float | None]) -> dict[str, float]:
        return {t: round(v, 6) for t, v in tiers.items() if v is not None and v < limits.coverage_min}

    def at_most(value: float | None, limit: float) -> bool:
        return value is not None and value <= limit

    last_below, current_below = below(figures.coverage_last_hour), below(figures.coverage_current_hour)
    lost = figures.sweeps_lost_last_hour + figures.sweeps_lost_current_hour
    worst_gap = max(figures.recorder_gap_minutes_last_hour, figures.recorder_gap_minutes_current_hour)
    return [
        Verdict(
            "coverage_last_hour",
            not last_below,
            _min(figures.coverage_last_hour.values()),
            limits.coverage_min,
            f"Every tier captured at least {_limit('coverage_min')} of the pairs scheduled in the last "
            "complete hour.",
            f"tiers below: {last_below or 'none'}",
        ),
        Verdict(
            "coverage_current_hour",
            not current_below,
            _min(figures.coverage_current_hour.values()),
            limits.coverage_min,
            f"Every tier captured at least {_limit('coverage_min')} of the pairs scheduled so far this hour "
            "(instants that are over only).",
            f"tiers below: {current_below or 'none'}",
        ),
        Verdict(
            "sweeps_on_time",
            lost <= limits.sweeps_missed_max,
            lost,
            limits.sweeps_missed_max,
            f"At most {_limit('sweeps_missed_max')} instants lost (every attempt missed or failed) in the "
            "last complete hour and this hour so far.",
            f"{figures.sweeps_lost_last_hour} last hour, {figures.sweeps_lost_current_hour} this hour",
        ),
        Verdict(
            "recorder_gaps",
            worst_gap <= limits.recorder_gap_minutes_max,
            worst_gap,
            limits.recorder_gap_minutes_max,
            f"The websocket recorder was down at most {_limit('recorder_gap_minutes_max')} minutes in the "
            "last complete hour and in this hour so far (ws_gaps, resyncs excluded).",
            f"{figures.recorder_gap_minutes_last_hour} min last hour, "
            f"{figures.recorder_gap_minutes_current_hour} min this hour",
        ),
        Verdict(
            "recorder_lag",
            at_most(figures.recorder_lag_s, limits.recorder_lag_s_max),
            figures.recorder_lag_s,
            limits.recorder_lag_s_max,
            f"The recorder received a message at most {_limit('recorder_lag_s_max')} seconds ago (its "
            "status file).",
            "no recorder status file" if figures.recorder_lag_s is None else "measured",
        ),
        Verdict(
            "discovery_fresh",
            at_most(figures.discovery_age_s, limits.discovery_age_s_max),
            figures.discovery_age_s,
            limits.discovery_age_s_max,
            f"The newest discovery is at most {_limit('discovery_age_s_max')} seconds old.",
            "no discovery in the lake" if figures.discovery_age_s is None else "measured",
        ),
        Verdict(
            "warehouse_fresh",
            at_most(figures.warehouse_age_s, limits.warehouse_age_s_max),
            figures.warehouse_age_s,
            limits.warehouse_age_s_max,
            f"warehouse.duckdb was rebuilt at most {_limit('warehouse_age_s_max')} seconds ago.",
            "no warehouse.duckdb" if figures.warehouse_age_s is None else "measured",
        ),
    ]


HEALTH_CHECKS = {
    v.name: v.description
    for v in verdicts(
        HealthFigures(datetime.min, {}, {}, 0, 0, 0.0, 0.0, None, None, None), HealthThresholds()
    )
}
