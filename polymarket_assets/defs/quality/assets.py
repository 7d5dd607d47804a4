"""`coverage`: expected vs captured (market, instant) pairs per tier and hour, with a failing check below target."""


from datetime import timedelta

import dagster as dg
import pyarrow as pa

from polymarket_assets.defs.partitions import hourly_partitions, partition_parts
from polymarket_assets.defs.policies import ONE_PARTITION_PER_RUN
from polymarket_assets.defs.resources import ClockResource, LakeResource
from polymarket_assets.lib.coverage import coverage_rows, expected_pairs
from polymarket_assets.lib.tiers import DEFAULT_PLAN
from ws_sidecar.planned_restart import PLANNED_RESTART

TS = pa.timestamp("us", tz="UTC")
COVERAGE_SCHEMA = pa.schema(
    [
        ("tier", pa.string()),
        ("hour_start", TS),
        ("expected", pa.int64()),
        ("captured", pa.int64()),
        ("coverage", pa.float64()),
        ("instants", pa.int64()),
        ("instants_with_misses", pa.int64()),
        ("computed_at", TS),
        # Missed pairs inside a planned restart of the exchange (`ws_gaps` reason planned_restart): not counted.
        ("missed_planned_restart", pa.int64()),
    ]
)
SNAPSHOT_ASSETS = [f"snapshots_{t.name.lower()}" for t in DEFAULT_PLAN.tiers]


class CoverageConfig(dg.Config):
    threshold: float = 0.99
    """The `coverage_above_threshold` check fails when any tier's coverage for the hour is below this."""


def _hours_parts(start, hours: int) -> list[dict[str, str]]:
    return [partition_parts((start - timedelta(hours=h)).strftime("%Y-%m-%d-%H:00")) for h in range(hours)]


def planned_restart_windows(store, start, hours: int) -> list[tuple]:
    """(start, end) of the exchange's planned restarts the recorder saw in this hour and the hours before it."""
    windows = []
    for parts in _hours_parts(start + timedelta(hours=1), hours + 1):
        table = store.read("ws_gaps", parts)
        if table is not None:
            windows += [(r["start_ts"], r["end_ts"]) for r in table.select(["reason", "start_ts", "end_ts"]).to_pylist()
                        if r["reason"] == PLANNED_RESTART]
    return windows


@dg.asset(
    partitions_def=hourly_partitions,
    group_name="quality",
    kinds={"python", "parquet"},
    backfill_policy=ONE_PARTITION_PER_RUN,
    deps=["markets", *SNAPSHOT_ASSETS],
    check_specs=[dg.AssetCheckSpec("coverage_above_threshold", asset="coverage")],
)
def coverage(context: dg.AssetExecutionContext, config: CoverageConfig, lake: LakeResource, clock: ClockResource) -> dg.MaterializeResult:
    """Per tier for this hour: pairs the tier plan scheduled (from discovery's record) and pairs with a snapshot row."""
    window = context.partition_time_window
    store = lake.lake()
    states: list[dict] = []
    # The hour's instants use the latest discovery at or before them, which may be up to a few hours older.
    for parts in _hours_parts(window.start, 4):
        table = store.read("market_states", parts)
        if table is not None:
            states.extend(table.select(["observed_at", "condition_id", "end_date", "yes_token_id", "no_token_id"]).to_pylist())
    states = [s for s in states if s["observed_at"] < window.end]
    expected = expected_pairs(states, window.start, window.end)
    captured: dict[str, set] = {}
    for tier in DEFAULT_PLAN.tiers:
        table = store.read("snapshots", {"tier": tier.name, **partition_parts(context.partition_key)})
        if table is not None:
            captured[tier.name] = set(zip(table.column("condition_id").to_pylist(), table.column("slot_ts").to_pylist()))
    now = clock.clock().now()
    rows = coverage_rows(expected, captured, window.start, now, planned_restart_windows(store, window.start, 2))
    store.replace_partition("coverage", pa.Table.from_pylist(rows, schema=COVERAGE_SCHEMA), partition_parts(context.partition_key))

    total_expected = sum(r["expected"] for r in rows)
    total_captured = sum(r["captured"] for r in rows)
    overall = total_captured / total_expected if total_expected else None
    below = {r["tier"]: r["coverage"] for r in rows if r["coverage"] is not None and r["coverage"] < config.threshold}
    per_tier = {f"coverage_{r['tier']}": (round(r["coverage"], 6) if r["coverage"] is not None else None) for r in rows}
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(rows),
            "coverage": round(overall, 6) if overall is not None else None,
            "expected_pairs": total_expected,
            "captured_pairs": total_captured,
            "missed_planned_restart": sum(r["missed_planned_restart"] for r in rows),
            **{k: v for k, v in per_tier.items() if v is not None},
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="coverage_above_threshold",
                passed=not below,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={"threshold": config.threshold, "tiers_below": str(below), "coverage": overall},
            )
        ],
    )

