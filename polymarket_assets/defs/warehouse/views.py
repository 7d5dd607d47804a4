"""The views of DESIGN.md's storage contract, each a query over one lake table (`src`)."""

import pyarrow as pa

from polymarket_assets.defs.markets.schema import (
    MARKET_CURRENT_SCHEMA,
    MARKET_STATE_SCHEMA,
    TIER_TRANSITION_SCHEMA,
)
from polymarket_assets.defs.quality.assets import COVERAGE_SCHEMA
from polymarket_assets.defs.resolutions.assets import RESOLUTION_SCHEMA
from polymarket_assets.defs.snapshots.schema import ORDERBOOK_SCHEMA, SNAPSHOT_SCHEMA, SWEEP_SCHEMA
from polymarket_assets.lib.warehouse import ViewSpec

HIVE_COLUMNS = "EXCLUDE (date, hour)"


def _with_hive(schema: pa.Schema, *names: str) -> pa.Schema:
    for name in names:
        if name not in schema.names:
            schema = schema.append(pa.field(name, pa.string()))
    return schema


VIEWS = [
    ViewSpec("markets", "markets_current", MARKET_CURRENT_SCHEMA, hive=False),
    ViewSpec(
        "market_states",
        "market_states",
        _with_hive(MARKET_STATE_SCHEMA, "date", "hour"),
        f"SELECT * {HIVE_COLUMNS} FROM src",
    ),
    # Each snapshot with its market's question and slug (from `markets`, created above), beside its tier.
    ViewSpec(
        "snapshots",
        "snapshots",
        _with_hive(SNAPSHOT_SCHEMA, "date", "hour"),
        f"""SELECT s.* {HIVE_COLUMNS}, m.question, m.slug
            FROM src s LEFT JOIN (SELECT condition_id, question, slug FROM markets) m USING (condition_id)""",
    ),
    ViewSpec(
        "orderbooks",
        "orderbooks",
        _with_hive(ORDERBOOK_SCHEMA, "date", "hour"),
        f"SELECT * {HIVE_COLUMNS} FROM src",
    ),
    ViewSpec(
        "sweeps",
        "sweeps",
        _with_hive(SWEEP_SCHEMA, "date", "hour"),
        f"SELECT * {HIVE_COLUMNS} FROM src",
    ),
    # Live coverage per tier and hour from the sweep log: per instant its best attempt (a captured sweep beats a
    # partial, failed or missed one). Counts only instants whose slot run started; the `coverage` asset also
    # counts slots that never ran. The newest hour in the log is still being recorded (`in_progress`).
    ViewSpec(
        "coverage_hourly",
        "sweeps",
        _with_hive(SWEEP_SCHEMA, "date", "hour"),
        """SELECT *, hour = max(hour) OVER () AS in_progress FROM (
           SELECT tier, to_timestamp(floor(epoch(slot_ts) / 3600) * 3600) AS hour,
                  sum(expected)::BIGINT AS expected, sum(captured)::BIGINT AS captured,
                  CASE WHEN sum(expected) > 0 THEN sum(captured) / sum(expected) END AS coverage,
                  count(*) AS instants,
                  count(*) FILTER (WHERE status IN ('missed', 'failed')) AS instants_lost,
                  count(*) FILTER (WHERE status = 'partial') AS instants_partial,
                  max(slot_ts) AS last_instant
           FROM (
               SELECT tier, slot_ts, status, expected, captured FROM src
               QUALIFY row_number() OVER (
                   PARTITION BY tier, slot_ts
                   ORDER BY CASE status WHEN 'captured' THEN 0 WHEN 'partial' THEN 1 WHEN 'failed' THEN 2 ELSE 3 END,
                            captured DESC) = 1) AS best
           GROUP BY ALL)""",
    ),
    ViewSpec(
        "tier_transitions",
        "tier_transitions",
        _with_hive(TIER_TRANSITION_SCHEMA, "date", "hour"),
        f"SELECT * {HIVE_COLUMNS} FROM src",
    ),
    # A market's label is its latest check, except that a final label is never replaced by a later UNKNOWN.
    ViewSpec(
        "resolutions",
        "resolutions",
        _with_hive(RESOLUTION_SCHEMA, "date", "hour"),
        f"""SELECT * {HIVE_COLUMNS} FROM src
            QUALIFY row_number() OVER (
                PARTITION BY condition_id
                ORDER BY (outcome IN ('YES', 'NO', 'INVALID')) DESC, checked_at DESC) = 1""",
    ),
    # The file column is `hour_start` because `hour` is also the hive partition key.
    ViewSpec(
        "coverage",
        "coverage",
        _with_hive(COVERAGE_SCHEMA, "date", "hour"),
        """SELECT tier, hour_start AS hour, expected, captured, coverage, instants, instants_with_misses, computed_at,
                  coalesce(in_progress, false) AS in_progress, coalesce(measured_until, hour_start + INTERVAL 1 HOUR) AS measured_until,
                  coalesce(missed_planned_restart, 0) AS missed_planned_restart
           FROM src
           QUALIFY row_number() OVER (PARTITION BY tier, hour_start ORDER BY computed_at DESC) = 1""",
    ),
]

from polymarket_assets.defs.trades.views import TRADE_VIEWS

VIEWS.extend(TRADE_VIEWS)

from polymarket_assets.defs.ml.views import ML_VIEWS

VIEWS.extend(ML_VIEWS)
