"""`warehouse`: rebuilds `warehouse.duckdb`, the read-only DuckDB catalogue of views over the lake.

Each view has a check, `view_<name>_complete`, that fails when the rebuild had to leave files of its table out
(unreadable or incompatible: their paths and reasons are in the check's metadata) or could not build it at all;
every other view is still built.
"""

import time

import dagster as dg

from polymarket_assets.defs.policies import freshness
from polymarket_assets.defs.resources import LakeResource
from polymarket_assets.lib import tables
from polymarket_assets.lib.warehouse import build_warehouse_report

VIEWS = tables.views()


def view_check_name(view: str) -> str:
    return f"view_{view}_complete"


# Views read whatever files exist when queried, so a rebuild only has to pick up new tables and view
# definitions: at start-up (never built, or a new automation cursor), here, and then every ten minutes in
# collection_health_job's run (defs/health/schedules.py), which shares its launch with the health measurement.
# Not `on_cron`, which also waits for every one of the dependencies to update inside the same window and so
# never fired. A failed first build waits for the next ten-minute run instead of retrying every evaluation.
WAREHOUSE_CONDITION = (
    (dg.AutomationCondition.missing() & ~dg.AutomationCondition.execution_failed()).with_label("never built")
    | dg.AutomationCondition.initial_evaluation().with_label("start-up")
) & ~dg.AutomationCondition.in_progress()


@dg.asset(
    group_name="warehouse",
    kinds={"duckdb"},
    freshness_policy=freshness("warehouse"),
    # Every asset that writes a table it has a view of (lib/tables.py).
    deps=tables.producers(),
    automation_condition=WAREHOUSE_CONDITION,
    check_specs=[
        dg.AssetCheckSpec(
            view_check_name(v.name),
            asset="warehouse",
            description=f"Every file of `{v.table}` is in view `{v.name}`.",
        )
        for v in VIEWS
    ],
)
def warehouse(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    """Views only (no copies of data) over every lake table, swapped in atomically; open it read-only.

    Rows are not counted here: a count reads every file's footer, and the rebuild must not grow with the
    number of files a year of collection leaves (the views bind from two footers per table, and only the
    newest partitions' new files are probed for damage)."""
    path = lake.warehouse_path()
    started = time.monotonic()
    build = build_warehouse_report(lake.data_dir, VIEWS, path, count_rows=False)
    for view, problem in build.problems.items():
        context.log.error(
            f"view {view} is incomplete: {len(problem.bad_files)} bad files left out"
            + (f", {problem.error}" if problem.error else "")
            + f": {list(problem.bad_files.items())[:3]}"
        )
    return dg.MaterializeResult(
        metadata={
            "views": len(VIEWS),
            "views_incomplete": dg.MetadataValue.json(sorted(build.problems)),
            "build_s": round(time.monotonic() - started, 3),
            "path": dg.MetadataValue.path(path),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=view_check_name(v.name),
                passed=v.name not in build.problems,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={
                    **(
                        {"problem": dg.MetadataValue.json(build.problems[v.name].as_metadata())}
                        if v.name in build.problems
                        else {}
                    )
                },
            )
            for v in VIEWS
        ],
    )
