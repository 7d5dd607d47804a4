"""`resolutions`: strict YES/NO/INVALID labels for markets past their end date, re-checked until final.

A websocket `market_resolved` (the provisional row in `market_events`) makes its market a candidate at once; the
strict label then confirms it, or contradicts it and is UNKNOWN with the reason.
"""

import json
import time

import dagster as dg
import pyarrow as pa

from polymarket_assets.defs.partitions import hourly_partitions, partition_parts
from polymarket_assets.defs.policies import API_POOL, API_RETRY_POLICY, ONE_PARTITION_PER_RUN, freshness
from polymarket_assets.defs.resources import ClockResource, LakeResource, PolymarketApiResource
from polymarket_assets.lib import tables
from polymarket_assets.lib.errors import ApiError, ParseError
from polymarket_assets.lib.labels import (
    FINAL_LABELS,
    NO,
    UNKNOWN,
    YES,
    check_ws_claim,
    combine,
    label_from_clob,
    label_from_gamma,
)
from polymarket_assets.lib.parse_gamma import parse_gamma_market
from polymarket_assets.lib.raw_archive import RawArchive
from polymarket_assets.lib.schemas import RESOLUTION_SCHEMA


def resolution_candidates(
    current: list[dict], final_ids: set[str], now, claimed: frozenset[str] = frozenset()
) -> list[dict]:
    """Markets without a final label that are past their end date, have left the open listing, or were announced
    resolved on the websocket (`claimed`)."""
    return [
        row
        for row in current
        if row["condition_id"] not in final_ids
        and (
            row.get("discovery_status") == "gone"
            or (row.get("end_date") is not None and row["end_date"] <= now)
            or row["condition_id"] in claimed
        )
    ]


def ws_claims(store) -> dict[str, str]:
    """Each market's latest websocket `market_resolved` claim (YES/NO/UNKNOWN), from `market_events`."""
    table = store.read("market_events", columns=["condition_id", "event_type", "outcome", "exchange_ts"])
    claims: dict[str, tuple] = {}
    for row in table.to_pylist() if table is not None else []:
        if row["event_type"] == "market_resolved" and (
            row["condition_id"] not in claims or row["exchange_ts"] > claims[row["condition_id"]][0]
        ):
            claims[row["condition_id"]] = (row["exchange_ts"], row["outcome"])
    return {cid: outcome for cid, (_, outcome) in claims.items()}


@dg.asset(
    partitions_def=hourly_partitions,
    group_name="resolutions",
    freshness_policy=freshness("resolutions"),
    kinds={"python", "parquet"},
    pool=API_POOL,
    retry_policy=API_RETRY_POLICY,
    backfill_policy=ONE_PARTITION_PER_RUN,
    deps=["markets"],
)
def resolutions(
    context: dg.AssetExecutionContext,
    polymarket: PolymarketApiResource,
    lake: LakeResource,
    clock: ClockResource,
) -> dg.MaterializeResult:
    """Labels every market past its end date: YES/NO only from one-hot `outcomePrices` on a closed market or the
    CLOB's single `tokens[].winner`; `["0","0"]` is INVALID; anything else stays UNKNOWN and is re-checked next run.
    """
    now = clock.clock().now()
    store = lake.lake()
    started = time.monotonic()
    current = store.read(tables.MARKETS_CURRENT.name)
    current_rows = current.to_pylist() if current is not None else []
    previous = store.read("resolutions", columns=["condition_id", "outcome"])
    final_ids = {
        r["condition_id"]
        for r in (previous.to_pylist() if previous is not None else [])
        if r["outcome"] in FINAL_LABELS
    }
    claims = ws_claims(store)
    candidates = resolution_candidates(current_rows, final_ids, now, frozenset(claims))
    by_id = {row["condition_id"]: row for row in candidates}
    quarantine = lake.quarantine("resolutions")
    raw = RawArchive(store.data_dir, "resolutions")

    gamma_objs: dict[str, dict] = {}
    ids = list(by_id)
    for i in range(0, len(ids), 100):
        chunk = ids[i : i + 100]
        # Gamma hides closed markets unless asked: query closed ones explicitly.
        page = polymarket.gamma.get_markets_by_condition_ids(chunk, closed=True)
        raw.add(now, "/markets", {"condition_ids": chunk, "closed": True}, page)
        for obj in page:
            gamma_objs[str(obj.get("conditionId"))] = obj

    rows = []
    clob_checks = 0
    for cid, market in by_id.items():
        obj = gamma_objs.get(cid)
        gamma_label, parsed = label_from_gamma(False, None, None), None
        if obj is not None:
            try:
                parsed = parse_gamma_market(obj)
                gamma_label = label_from_gamma(parsed.closed, obj_outcome_prices(obj), parsed.outcomes)
            except ParseError as exc:
                quarantine.add(str(exc), obj, {"condition_id": cid})
        # The sides by outcome name, from this answer when it parsed (ids never change), else from discovery.
        side = parsed if parsed is not None and parsed.yes_token_id else None
        yes_token, no_token = (
            (side.yes_token_id, side.no_token_id) if side else (market["yes_token_id"], market["no_token_id"])
        )
        yes_name, no_name = (
            (side.yes_outcome, side.no_outcome)
            if side
            else (market.get("yes_outcome"), market.get("no_outcome"))
        )
        clob_label = None
        if gamma_label.outcome not in FINAL_LABELS and (parsed is None or parsed.closed):
            try:
                clob_checks += 1
                clob_market = polymarket.clob.get_market(cid)
                raw.add(now, f"/markets/{cid}", {}, clob_market)
                clob_label = label_from_clob(
                    clob_market.get("closed"), clob_market.get("tokens") or [], yes_token, no_token
                )
            except ApiError as exc:
                context.log.info(f"CLOB market {cid} not available: {exc}")
        label = check_ws_claim(combine(gamma_label, clob_label), claims.get(cid))
        # Only a YES/NO label names a winner (a contradicted claim is UNKNOWN): by outcome name, never by index.
        winner = {YES: (yes_token, yes_name), NO: (no_token, no_name)}.get(label.outcome, (None, None))
        rows.append(
            {
                "condition_id": cid,
                "outcome": label.outcome,
                "winning_token_id": winner[0],
                "winning_outcome": winner[1],
                "resolved_at": resolved_at(label.outcome, parsed, now),
                "source": label.source,
                "detail": label.detail or None,
                "outcome_prices": obj.get("outcomePrices") if obj else None,
                "uma_resolution_status": obj.get("umaResolutionStatus") if obj else None,
                "checked_at": now,
                "ws_outcome": claims.get(cid),
            }
        )

    parts = partition_parts(context.partition_key)
    store.write(
        "resolutions",
        pa.Table.from_pylist(rows, schema=RESOLUTION_SCHEMA),
        parts,
        f"checked-{now:%Y%m%dT%H%M%S}",
    )
    raw.flush(parts, f"checked-{now:%Y%m%dT%H%M%S}")
    quarantine.flush(now)
    outcomes_count: dict[str, int] = {}
    for row in rows:
        outcomes_count[row["outcome"]] = outcomes_count.get(row["outcome"], 0) + 1
    api = polymarket.stats()
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(rows),
            "candidates": len(candidates),
            "newly_final": sum(1 for r in rows if r["outcome"] in FINAL_LABELS),
            "still_unknown": outcomes_count.get(UNKNOWN, 0),
            **{f"outcome_{k}": v for k, v in sorted(outcomes_count.items())},
            "clob_checks": clob_checks,
            "ws_claims_checked": sum(1 for r in rows if r["ws_outcome"] is not None),
            "ws_claims_confirmed": sum(
                1 for r in rows if r["ws_outcome"] is not None and r["outcome"] == r["ws_outcome"]
            ),
            "ws_claims_contradicted": sum(
                1 for r in rows if r["source"] == "conflict" and r["ws_outcome"] is not None
            ),
            "quarantined": quarantine.count,
            "api_requests": int(api.get("requests", 0)),
            "duration_s": round(time.monotonic() - started, 3),
        }
    )


def resolved_at(outcome: str, parsed, now):
    """Gamma's `closedTime` when it has one; otherwise the check that first saw the final label."""
    if outcome not in FINAL_LABELS:
        return None
    return (parsed.closed_time if parsed is not None else None) or now


def obj_outcome_prices(obj: dict):
    """`outcomePrices` decoded from its JSON-encoded string, as the exact strings Gamma sent."""
    value = obj.get("outcomePrices")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, list) else None
