"""Run policies shared by every asset that calls a Polymarket API, and the freshness policies of collection."""

from datetime import timedelta

import dagster as dg

# Clients already retry individual requests; this retries a whole run that still failed (e.g. circuit open).
API_RETRY_POLICY = dg.RetryPolicy(
    max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)
API_POOL = "polymarket_api"
ONE_PARTITION_PER_RUN = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)


# How stale each asset may get before the UI marks it stale (Dagster's freshness policies, evaluated by the
# daemon). An asset never materialized yet is "unknown", not failing, so a new deployment does not start red.
# The snapshot tiers have none (a tier may rightly be empty; collection_health's coverage and sweep checks judge
# them, a sweep being late past its tier's `tolerance_s` in the tier plan, so a tier added to the plan is judged
# alike), nor `coverage` (collection_health covers it); `collection_health` declares its own.
FRESHNESS = {
    "markets": timedelta(hours=2),
    "resolutions": timedelta(hours=1),
    "warehouse": timedelta(hours=2),
}


def freshness(asset: str) -> dg.FreshnessPolicy:
    return dg.FreshnessPolicy.time_window(fail_window=FRESHNESS[asset])
