"""`warehouse`: rebuilds `warehouse.duckdb`, the read-only DuckDB catalogue of views over the lake."""

import time

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
    """Views only (no copies of data) over every lake table, swapped in atomically; open it read-only.

    Rows are not counted here: a count reads every file's footer, and the rebuild must not grow with the
    number of files a year of collection leaves (the views themselves bind from two footers per table)."""
    path = lake.warehouse_path()
    started = time.monotonic()
    build_warehouse(lake.data_dir, VIEWS, path, count_rows=False)
    return dg.MaterializeResult(
        metadata={
            "views": len(VIEWS),
            "build_s": round(time.monotonic() - started, 3),
            "path": dg.MetadataValue.path(path),
        }
    )
