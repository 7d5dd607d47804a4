"""Freshness checks for every collection asset, evaluated by a sensor so the UI shows stale data at once."""

from datetime import timedelta

import dagster as dg

FRESHNESS = {
    "markets": timedelta(hours=2),
    "snapshots_t0": timedelta(hours=2),
    "snapshots_t1": timedelta(minutes=15),
    "snapshots_t2": timedelta(minutes=5),
    "snapshots_t3": timedelta(minutes=5),
    "snapshots_t4": timedelta(minutes=5),
    "snapshots_stale": timedelta(hours=2),
    "resolutions": timedelta(hours=1),
    "coverage": timedelta(hours=2),
    "warehouse": timedelta(hours=2),
    "collection_health": timedelta(minutes=15),
}

freshness_checks = [
    check
    for asset, bound in FRESHNESS.items()
    for check in dg.build_last_update_freshness_checks(assets=[asset], lower_bound_delta=bound)
]

freshness_checks_sensor = dg.build_sensor_for_freshness_checks(
    freshness_checks=freshness_checks,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
