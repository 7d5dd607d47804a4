"""`coverage`: expected vs captured (market, instant) pairs per tier and hour, with a failing check below target.

Only instants that are over are counted (`lib/coverage.py`): an hour still under way is measured so far, its rows
say `in_progress`, and its check reports without failing; the hour is judged once it is over. Pairs missed during a
planned restart of the exchange are counted apart (`missed_planned_restart`) and left out of the ratio.
"""

import dagster as dg
import pyarrow as pa

from polymarket_assets.defs.partitions import hourly_partitions, partition_check_spec, partition_parts
from polymarket_assets.defs.policies import ONE_PARTITION_PER_RUN
from polymarket_assets.defs.resources import ClockResource, LakeResource
from polymarket_assets.lib.coverage import measure_hour
from polymarket_assets.lib.schemas import COVERAGE_SCHEMA
from polymarket_assets.lib.tiers import DEFAULT_PLAN


class CoverageConfig(dg.Config):
    threshold: float = 0.99
    """The `coverage_above_threshold` check fails when any tier's coverage for the hour is below this."""


@dg.asset(
    partitions_def=hourly_partitions,
    group_name="quality",
    kinds={"python", "parquet"},
    backfill_policy=ONE_PARTITION_PER_RUN,
    deps=["markets", *DEFAULT_PLAN.asset_names],
    check_specs=[
        partition_check_spec(
            "coverage_above_threshold",
            "coverage",
            "Every tier captured at least the threshold share (run config `threshold`, default 0.99) of the "
            "(market, instant) pairs its plan scheduled in the hour. An hour still under way never fails.",
        )
    ],
)
def coverage(
    context: dg.AssetExecutionContext, config: CoverageConfig, lake: LakeResource, clock: ClockResource
) -> dg.MaterializeResult:
    """Per tier for this hour: pairs the tier plan scheduled (from discovery's record) and pairs with a snapshot row,
    counting only instants that are over."""
    window = context.partition_time_window
    store = lake.lake()
    now = clock.clock().now()
    rows = measure_hour(store, window.start, now)
    in_progress = now < window.end
    store.replace_partition(
        "coverage", pa.Table.from_pylist(rows, schema=COVERAGE_SCHEMA), partition_parts(context.partition_key)
    )

    total_expected = sum(r["expected"] for r in rows)
    total_captured = sum(r["captured"] for r in rows)
    excused = sum(r["missed_planned_restart"] for r in rows)
    overall = total_captured / (total_expected - excused) if total_expected > excused else None
    below = {
        r["tier"]: r["coverage"]
        for r in rows
        if r["coverage"] is not None and r["coverage"] < config.threshold
    }
    per_tier = {
        f"coverage_{r['tier']}": (round(r["coverage"], 6) if r["coverage"] is not None else None)
        for r in rows
    }
    until = rows[0]["measured_until"] if rows else window.end
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(rows),
            "coverage": round(overall, 6) if overall is not None else None,
            "expected_pairs": total_expected,
            "captured_pairs": total_captured,
            "missed_planned_restart": excused,
            "in_progress": in_progress,
            "measured_until": until.isoformat(),
            **{k: v for k, v in per_tier.items() if v is not None},
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="coverage_above_threshold",
                passed=in_progress or not below,
                severity=dg.AssetCheckSeverity.ERROR,
                description=(
                    f"hour in progress: measured until {until.isoformat()}, judged once it is over"
                    if in_progress
                    else None
                ),
                metadata={
                    "threshold": config.threshold,
                    "tiers_below": str(below),
                    "coverage": overall,
                    "in_progress": in_progress,
                },
            )
        ],
    )
