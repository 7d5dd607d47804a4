"""`collection_health`: one asset that answers "is collection healthy right now?".

Materialized every ten minutes (`collection_health_schedule`, in the same run as the `warehouse` rebuild). Its metadata holds one number per figure
(coverage per tier for the last complete hour and the current hour so far, lost sweeps, recorder gaps and lag,
discovery and warehouse age), which the UI plots over time; its checks turn red when a figure crosses its
threshold (`lib/health_thresholds.py`, each overridable by a `PM_HEALTH_*` setting).
"""

import time
from datetime import timedelta

import dagster as dg

from polymarket_assets.defs.resources import ClockResource, LakeResource
from polymarket_assets.lib.health import HEALTH_CHECKS, measure_health, verdicts
from polymarket_assets.lib.health_thresholds import HealthThresholds
from polymarket_assets.lib.recorder_health import gap_minutes_by_hour
from polymarket_assets.lib.recorder_state import read_json, status_path

# How often collection_health_schedule materializes it (with a warehouse rebuild); the freshness policy allows
# three missed ticks.
CADENCE_MINUTES = 10


@dg.asset(
    group_name="health",
    kinds={"python"},
    check_specs=[
        dg.AssetCheckSpec(name, asset="collection_health", description=text)
        for name, text in HEALTH_CHECKS.items()
    ],
    freshness_policy=dg.FreshnessPolicy.time_window(
        fail_window=timedelta(minutes=3 * CADENCE_MINUTES), warn_window=timedelta(minutes=2 * CADENCE_MINUTES)
    ),
)
def collection_health(
    context: dg.AssetExecutionContext, lake: LakeResource, clock: ClockResource
) -> dg.MaterializeResult:
    """Is collection healthy right now? Coverage per tier (last complete hour, this hour so far), lost sweeps,
    recorder gaps and lag, discovery and warehouse age: plotted from this asset's metadata, judged by its checks."""
    now = clock.clock().now()
    store = lake.lake()
    status = read_json(status_path(store.data_dir)) if store.location.is_local else None
    figures = measure_health(
        store, now, status, gap_minutes_by_hour(store, now, 2), lake.warehouse_path(), time.time()
    )
    limits = HealthThresholds.from_env()
    results = verdicts(figures, limits)
    failing = [v.name for v in results if not v.passed]
    if failing:
        context.log.warning(f"collection unhealthy at {now.isoformat()}: {', '.join(failing)}")
    return dg.MaterializeResult(
        metadata={
            **figures.metadata(),
            "measured_at": now.isoformat(),
            "last_complete_hour": figures.last_hour.isoformat(),
            "checks_failing": len(failing),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=v.name,
                passed=v.passed,
                severity=dg.AssetCheckSeverity.ERROR,
                description=v.detail,
                metadata={"value": v.value, "threshold": v.threshold},
            )
            for v in results
        ],
    )
