"""`warehouse`: rebuilds `warehouse.duckdb`, the read-only DuckDB catalogue of views over the lake."""

import dagster as dg

from polymarket_assets.defs.resources import LakeResource
from polymarket_assets.defs.warehouse.views import VIEWS
from polymarket_assets.lib.warehouse import build_warehouse


@dg.asset(
    group_name="warehouse",
    kinds={"duckdb"},
    deps=["markets", "resolutions", "coverage", *[f"snapshots_{t}" for t in ("t0", "t1", "t2", "t3", "t4", "stale")],
          "trades", "book_updates", "ws_gaps", "whale_events"],
    automation_condition=dg.AutomationCondition.on_cron("*/10 * * * *"),
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
