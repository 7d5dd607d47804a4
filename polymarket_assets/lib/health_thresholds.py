"""The thresholds behind every collection-health verdict, in one place, each overridable by a `PM_HEALTH_*` setting.

Read when a run evaluates its checks (never at import), so changing a setting needs no reload of the code
location, only a new run. An unparsable value is a clear error naming the setting, never a silent default.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields

from polymarket_assets.lib.tiers import DEFAULT_PLAN

# The instants lost tolerated, as a share of one hour's scheduled instants over every tier of the plan.
LOST_INSTANTS_SHARE = 0.01


@dataclass(frozen=True)
class HealthThresholds:
    coverage_min: float = 0.99
    """Per tier, the least share of scheduled (market, instant) pairs captured (last complete hour, current hour so far)."""
    missed_sweeps_error_share: float = 0.5
    """A slot run whose missed or failed sweeps exceed this share of its sweeps is an ERROR, any fewer a WARN."""
    sweeps_missed_max: int = math.ceil(LOST_INSTANTS_SHARE * DEFAULT_PLAN.instants_per_hour)
    """Instants lost (every sweep attempt missed or failed) tolerated over the last complete hour and the current
    hour so far, all tiers together: 1 % of an hour's instants of the tier plan, rounded up (5 of the default
    plan's 434), so a tier added to the plan raises it."""
    recorder_gap_minutes_max: float = 5.0
    """Minutes without a working websocket tolerated in the last complete hour and in the current hour so far (the
    same bound as the `ws_gap_minutes` check)."""
    recorder_lag_s_max: float = 60.0
    """Seconds since the recorder's last message (its status file) before the recording counts as stalled."""
    discovery_age_s_max: float = 2 * 3600.0
    """Seconds since the newest discovery (`market_states.observed_at`, on the collection clock)."""
    warehouse_age_s_max: float = 900.0
    """Wall seconds since `warehouse.duckdb` was last rebuilt."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> HealthThresholds:
        values = {}
        for f in fields(cls):
            name = setting_name(f.name)
            text = env.get(name, "").strip()
            if not text:
                continue
            kind = int if f.type in (int, "int") else float
            try:
                values[f.name] = kind(text)
            except ValueError:
                raise ValueError(f"{name} must be a {kind.__name__}, not {text!r}") from None
        return cls(**values)


def setting_name(field_name: str) -> str:
    """The environment variable that overrides a threshold: `coverage_min` -> `PM_HEALTH_COVERAGE_MIN`."""
    return f"PM_HEALTH_{field_name.upper()}"
