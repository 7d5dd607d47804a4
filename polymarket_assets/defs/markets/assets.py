"""`markets`: discovery of every open market through Gamma, with its history, current state and tiers."""

import time
from datetime import timedelta

import dagster as dg
import pyarrow as pa

from polymarket_assets.defs.partitions import hourly_partitions, partition_check_spec, partition_parts
from polymarket_assets.defs.policies import API_POOL, API_RETRY_POLICY, ONE_PARTITION_PER_RUN, freshness
from polymarket_assets.defs.resources import ClockResource, LakeResource, PolymarketApiResource
from polymarket_assets.lib import tables
from polymarket_assets.lib.discovery import (
    OPEN,
    list_open_markets,
    market_state_row,
    merge_current,
    tier_transitions,
)
from polymarket_assets.lib.labels import FINAL_LABELS
from polymarket_assets.lib.raw_archive import RawArchive
from polymarket_assets.lib.schemas import (
    MARKET_CURRENT_SCHEMA,
    MARKET_STATE_SCHEMA,
    TIER_TRANSITION_SCHEMA,
)

# Discovery observes the present: a run may start a little after its hour ends (queue, retries), no later.
LATE_GRACE = timedelta(minutes=15)
# A market announced on the websocket this shortly before a listing may not be listed yet: it is not flagged.
WS_SIGHTING_GRACE = timedelta(minutes=2)


def _rows(table: pa.Table | None) -> list[dict]:
    return table.to_pylist() if table is not None else []


def ws_sightings(lake) -> tuple[dict, set[str]]:
    """(first `new_market` time per market, markets with a `market_resolved`) from the recorder's `market_events`."""
    table = lake.read("market_events", columns=["condition_id", "event_type", "exchange_ts"])
    seen: dict = {}
    resolved: set[str] = set()
    for row in table.to_pylist() if table is not None else []:
        cid = row["condition_id"]
        if row["event_type"] == "new_market":
            seen[cid] = min(seen.get(cid, row["exchange_ts"]), row["exchange_ts"])
        elif row["event_type"] == "market_resolved":
            resolved.add(cid)
    return seen, resolved


def undiscovered_ws_markets(current: list[dict], seen: dict, resolved: set[str], listed_from) -> list[str]:
    """Markets the websocket announced before this listing began that discovery has never listed (nor resolved)."""
    known = {row["condition_id"] for row in current}
    return sorted(
        cid for cid, at in seen.items() if at < listed_from and cid not in known and cid not in resolved
    )


def final_condition_ids(lake) -> set[str]:
    table = lake.read("resolutions", columns=["condition_id", "outcome"])
    if table is None:
        return set()
    return {r["condition_id"] for r in table.to_pylist() if r["outcome"] in FINAL_LABELS}


@dg.asset(
    partitions_def=hourly_partitions,
    group_name="markets",
    freshness_policy=freshness("markets"),
    kinds={"python", "parquet"},
    pool=API_POOL,
    retry_policy=API_RETRY_POLICY,
    backfill_policy=ONE_PARTITION_PER_RUN,
    tags={"domain": "markets"},
    check_specs=[
        partition_check_spec(
            "ws_new_markets_discovered",
            "markets",
            "Every market the websocket announced (`new_market`) more than a couple of minutes before this listing "
            "was listed by discovery (or has resolved since). Warns: the recorder subscribes such markets anyway.",
        )
    ],
)
def markets(
    context: dg.AssetExecutionContext,
    polymarket: PolymarketApiResource,
    lake: LakeResource,
    clock: ClockResource,
) -> dg.MaterializeResult:
    """Every open Polymarket market, discovered through Gamma `/markets/keyset` (offset paging as fallback),
    as several concurrent keyset listings over endDate ranges (`GammaClient.iter_open_markets_partitioned`).

    Writes the market state observed this hour to `market_states` (hourly partitions), replaces the
    `markets_current` table, records every tier change in `tier_transitions`, and archives the raw pages.
    """
    clk = clock.clock()
    now = clk.now()
    window = context.partition_time_window
    if not (window.start <= now < window.end + LATE_GRACE):
        raise dg.Failure(
            f"discovery records the present; partition {context.partition_key} does not contain now ({now.isoformat()})"
        )
    store = lake.lake()
    quarantine = lake.quarantine("gamma_markets")
    raw = RawArchive(store.data_dir, "gamma_markets")
    started = time.monotonic()

    previous = _rows(store.read(tables.MARKETS_CURRENT.name))
    for row in previous:
        row.pop("date", None), row.pop("hour", None)
    # Several keyset listings at once over endDate ranges sized from the previous discovery (GammaClient);
    # the first discovery, and any listing of under ~16 pages, is one sequential keyset listing as before.
    listing = list_open_markets(polymarket.gamma, now, previous, quarantine, raw)
    # Stamped when the listing is complete: a sweep reading the current table after this instant sees it.
    observed_at = clk.now()
    observed_rows = [market_state_row(market, observed_at) for market in listing.markets.values()]

    current, new_ids, gone_ids = merge_current(
        previous, observed_rows, observed_at, final_condition_ids(store), listing.unparsed
    )
    # A market the websocket announced (`new_market`) was first seen then, not when discovery got to it.
    seen, ws_resolved = ws_sightings(store)
    new = set(new_ids)
    for row in current:
        if row["condition_id"] in new and row["condition_id"] in seen:
            row["first_seen_at"] = min(row["first_seen_at"], seen[row["condition_id"]])
    missing = undiscovered_ws_markets(current, seen, ws_resolved, now - WS_SIGHTING_GRACE)
    transitions = tier_transitions(
        previous, observed_rows, observed_at, unparsed_condition_ids=listing.unparsed
    )

    parts = partition_parts(context.partition_key)
    store.replace_partition(
        "market_states", pa.Table.from_pylist(observed_rows, schema=MARKET_STATE_SCHEMA), parts
    )
    store.replace_partition(
        "tier_transitions", pa.Table.from_pylist(transitions, schema=TIER_TRANSITION_SCHEMA), parts
    )
    store.replace_partition(
        tables.MARKETS_CURRENT.name, pa.Table.from_pylist(current, schema=MARKET_CURRENT_SCHEMA), {}
    )
    raw.flush(parts, f"pages-{int(now.timestamp())}")
    quarantine.flush(observed_at)

    tiers: dict[str, int] = {}
    versions: dict[str, int] = {}
    for row in observed_rows:
        tiers[row["tier"]] = tiers.get(row["tier"], 0) + 1
        # Markets from before Gamma's `version` field are legacy v1 markets (parse_gamma).
        version = row["version"] or "legacy"
        versions[version] = versions.get(version, 0) + 1
    api = polymarket.stats()
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(observed_rows),
            "open_markets": len(observed_rows),
            "new_markets": len(new_ids),
            "closed_markets": len(gone_ids),
            "tracked_markets": sum(1 for r in current if r["discovery_status"] == OPEN),
            "tier_transitions": len(transitions),
            "pages": listing.pages,
            "listing_ranges": int(listing.report.get("ranges", 1)),
            "listing_fallback": str(listing.report.get("fallback") or ""),
            "quarantined": quarantine.count,
            "api_requests": int(api.get("requests", 0)),
            "api_retries": int(api.get("retries", 0)),
            "duration_s": round(time.monotonic() - started, 3),
            "observed_at": observed_at.isoformat(),
            "ws_announced_new_markets": sum(1 for cid in new_ids if cid in seen),
            "ws_announced_not_discovered": len(missing),
            **{f"tier_{name}": count for name, count in sorted(tiers.items())},
            **{f"version_{name}": count for name, count in sorted(versions.items())},
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="ws_new_markets_discovered",
                passed=not missing,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"missing": len(missing), "condition_ids": dg.MetadataValue.json(missing[:50])},
            )
        ],
    )
