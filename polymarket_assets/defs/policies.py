"""Run policies shared by every asset that calls a Polymarket API."""

import dagster as dg

# Clients already retry individual requests; this retries a whole run that still failed (e.g. circuit open).
API_RETRY_POLICY = dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)
API_POOL = "polymarket_api"
ONE_PARTITION_PER_RUN = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)
