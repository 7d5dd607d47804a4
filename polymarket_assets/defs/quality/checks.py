"""Freshness checks for the collection assets, evaluated by a sensor so the UI shows stale data at once.

The snapshot tiers have none: a tier's partition is materialized only when its hour holds rows, and a tier may
rightly be empty (no market within an hour of closing, none stale), so "not updated lately" would be a false red.
Whether each tier is being swept is `collection_health`'s coverage and sweep checks, which compare the captured
pairs with what discovery scheduled; the same holds for `coverage` (its hourly run comes at :20, so a last-update
check would be red for the first hour of every new deployment). `collection_health` has a freshness policy of
its own.
"""

from datetime import timedelta

import dagster as dg

FRESHNESS = {
    "markets": timedelta(hours=2),
    "resolutions": timedelta(hours=1),
    "warehouse": timedelta(hours=2),
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
