"""`warehouse`: rebuilds `warehouse.duckdb`, the read-only DuckDB catalogue of views over the lake."""

import dagster as dg

from polymarket_assets.defs.resources import LakeResource
from polymarket_assets.defs.warehouse.views import VIEWS
from polymarket_assets.lib.warehouse import build_warehouse

REBUILD_CRON = "*/10 * * * *"

# Views read whatever files exist when queried, so a rebuild only has to pick up new tables and view
# definitions: at start-up (never built, or a new automation cursor) and then every ten minutes. Not
# `on_cron`, which also waits for every one of the eleven dependencies to update inside the same window
# and so never fired. A failed first build waits for the next tick instead of retrying every evaluation.
WAREHOUSE_CONDITION = (
    (
        (dg.AutomationCondition.missing() & ~dg.AutomationCondition.execution_failed()).with_label("never built")
        | dg.AutomationCondition.initial_evaluation().with_label("start-up")
        | dg.AutomationCondition.cron_tick_passed(REBUILD_CRON, "UTC").with_label(f"cron {REBUILD_CRON}")
    )
    & ~dg.AutomationCondition.in_progress()
)


@dg.asset(
    group_name="warehouse",
    kinds={"duckdb"},
    deps=["markets", "resolutions", "coverage", *[f"snapshots_{t}" for t in ("t0", "t1", "t2", "t3", "t4", "stale")],
          "trades", "book_updates", "ws_gaps", "whale_events"],
    automation_condition=WAREHOUSE_CONDITION,
)
def warehouse(lake: LakeResource) -> dg.MaterializeResult:
    """Views only (no copies of data) over every lake table, swapped in atomically; open it read-only."""
    path = lake.warehouse_path()
    counts = build_warehouse(lake.data_dir, VIEWS, path)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": sum(counts.values()),
            "views": len(counts),
            **{f"rows_{name}": count for name, count in counts.items()},
            "path": dg.MetadataValue.path(path),
        }
    )
