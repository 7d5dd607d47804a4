"""The registry of lake tables: each table declared once, with everything derived from that declaration.

A `Table` is a name (its files live under `<data_dir>/lake/<name>/`, `lib/parquet_store.py`), its Arrow schema
(`lib/schemas.py`), its hive partitioning, the Dagster assets that write it and its warehouse views. From it:

- `views()`: the warehouse's views (`lib/warehouse.py`), in declaration order (`snapshots` and `trades` join
  `markets`, so it comes first); a view over a partitioned table sees the hive keys as columns, and the
  default view leaves them out;
- `producers()`: every asset that writes a table, which the `warehouse` asset depends on;
- the column types of the ML layer's sources (`lib/ml/sources.py`) and the tables of the synthetic lake
  (`lib/ml/synthetic.py`).

Adding a column is one edit to its schema (and its producer); adding a table, one `Table` in `TABLES`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pyarrow as pa

from polymarket_assets.lib import schemas
from polymarket_assets.lib.tiers import DEFAULT_PLAN
from polymarket_assets.lib.warehouse import ViewSpec, to_tick
from polymarket_assets.lib.whale_tiers import DEFAULT_THRESHOLDS, tier_label

# Hive partitionings, outermost key first.
HOURLY = ("date", "hour")
DAILY = ("date",)
UNPARTITIONED = ()
# How a time-valued hive key is written in a path.
TIME_KEY_FORMATS = {"date": "%Y-%m-%d", "hour": "%H"}


@dataclass(frozen=True)
class View:
    name: str
    # SQL over the relation `src` (the table's files, with its hive keys as columns); None: every file column.
    sql: str | None = None


@dataclass(frozen=True)
class Table:
    name: str
    schema: pa.Schema
    partitioning: tuple[str, ...]  # hive keys of the path, outermost first
    producers: tuple[str, ...]  # the Dagster assets that write it
    views: tuple[View, ...]

    @property
    def hive_columns(self) -> tuple[str, ...]:
        """The partition keys the path adds to each row (a key that is also a file column adds nothing)."""
        return tuple(key for key in self.partitioning if key not in self.schema.names)

    def parts(self, at: date, **values: str) -> dict[str, str]:
        """The hive partition of rows at `at` (a date or datetime); keys that are not times are given."""
        return {key: values.get(key) or at.strftime(TIME_KEY_FORMATS[key]) for key in self.partitioning}

    def view_specs(self) -> list[ViewSpec]:
        """Its views for the warehouse: typed by its schema plus the hive keys (text, for an empty table)."""
        schema, hive_columns = self.schema, self.hive_columns
        for key in hive_columns:
            schema = schema.append(pa.field(key, pa.string()))
        every_column = f"SELECT * {_exclude(hive_columns)} FROM src" if hive_columns else "SELECT * FROM src"
        hive = bool(self.partitioning)
        return [ViewSpec(v.name, self.name, schema, v.sql or every_column, hive) for v in self.views]


def _exclude(columns: tuple[str, ...]) -> str:
    return f"EXCLUDE ({', '.join(columns)})"


EVERY_FILE_COLUMN = f"* {_exclude(HOURLY)}"  # `*` of an hourly table's `src`, without its hive keys

SNAPSHOT_PRODUCERS = DEFAULT_PLAN.asset_names

# Live coverage per tier and hour from the sweep log: per instant its best attempt (a captured sweep beats
# a partial, failed or missed one). Counts only instants whose slot run started; the `coverage` asset also
# counts slots that never ran. The newest hour in the log is still being recorded (`in_progress`).
COVERAGE_HOURLY_SQL = """SELECT *, hour = max(hour) OVER () AS in_progress FROM (
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
           GROUP BY ALL)"""

# `trades` states every trade in YES terms (`yes_price`, `yes_side`) too: a trade of the NO token at p is a
# trade of YES at 1 - p on the other side (a NO BUY at 0.3 is a YES SELL at 0.7). The token's side is found
# by its outcome NAME against the market's `yes_outcome`/`no_outcome` (never by index); a trade whose outcome
# matches neither gets NULLs, not a guess. YES-terms prices are rounded to the market's tick.
_IS_YES = "lower(t.outcome) = lower(m.yes_outcome)"
_IS_NO = "lower(t.outcome) = lower(m.no_outcome)"
TRADES_SQL = f"""
    SELECT t.asset_id, t.condition_id, t.outcome, t.price, t.size, t.side, t.notional_usd, t.exchange_ts,
           t.received_at, t.source, t.trade_uid, t.transaction_hash, t.outcome_index, t.fee_rate_bps, t.fee_usd,
           CASE WHEN {_IS_YES} THEN 'YES' WHEN {_IS_NO} THEN 'NO' END AS token,
           CASE WHEN {_IS_YES} THEN {to_tick("t.price", "m.tick_size")}
                WHEN {_IS_NO} THEN {to_tick("1 - t.price", "m.tick_size")} END AS yes_price,
           CASE WHEN {_IS_YES} THEN t.side
                WHEN {_IS_NO} THEN CASE t.side WHEN 'BUY' THEN 'SELL' WHEN 'SELL' THEN 'BUY' END END AS yes_side,
           m.question, m.slug
    FROM src t LEFT JOIN markets m ON m.condition_id = t.condition_id"""

# Every trade at or above the lowest whale threshold, live (the `whale_events` job runs hourly, for the
# previous hour).
_WHALE_TIER = " ".join(
    f"WHEN notional_usd >= {t!r} THEN '{tier_label(t)}'" for t in sorted(DEFAULT_THRESHOLDS, reverse=True)
)
LARGE_TRADES_SQL = f"""
    SELECT *, CASE {_WHALE_TIER} END AS whale_tier FROM ({TRADES_SQL})
    WHERE notional_usd >= {min(DEFAULT_THRESHOLDS)!r}"""

MARKETS_CURRENT = Table(
    "markets_current", schemas.MARKET_CURRENT_SCHEMA, UNPARTITIONED, ("markets",), (View("markets"),)
)
MARKET_STATES = Table(
    "market_states", schemas.MARKET_STATE_SCHEMA, HOURLY, ("markets",), (View("market_states"),)
)
SNAPSHOTS = Table(
    "snapshots",
    schemas.SNAPSHOT_SCHEMA,
    ("tier", *HOURLY),
    SNAPSHOT_PRODUCERS,
    # Each snapshot with its market's question and slug (from `markets`), beside its tier.
    (
        View(
            "snapshots",
            f"""SELECT s.{EVERY_FILE_COLUMN}, m.question, m.slug
            FROM src s LEFT JOIN (SELECT condition_id, question, slug FROM markets) m USING (condition_id)""",
        ),
    ),
)
ORDERBOOKS = Table(
    "orderbooks", schemas.ORDERBOOK_SCHEMA, ("tier", *HOURLY), SNAPSHOT_PRODUCERS, (View("orderbooks"),)
)
SWEEPS = Table(
    "sweeps",
    schemas.SWEEP_SCHEMA,
    ("tier", *HOURLY),
    SNAPSHOT_PRODUCERS,
    (View("sweeps"), View("coverage_hourly", COVERAGE_HOURLY_SQL)),
)
TIER_TRANSITIONS = Table(
    "tier_transitions", schemas.TIER_TRANSITION_SCHEMA, HOURLY, ("markets",), (View("tier_transitions"),)
)
RESOLUTIONS = Table(
    "resolutions",
    schemas.RESOLUTION_SCHEMA,
    HOURLY,
    ("resolutions",),
    # A market's label is its latest check, except that a final label is never replaced by a later UNKNOWN.
    (
        View(
            "resolutions",
            f"""SELECT {EVERY_FILE_COLUMN} FROM src
            QUALIFY row_number() OVER (
                PARTITION BY condition_id
                ORDER BY (outcome IN ('YES', 'NO', 'INVALID')) DESC, checked_at DESC) = 1""",
        ),
    ),
)
COVERAGE = Table(
    "coverage",
    schemas.COVERAGE_SCHEMA,
    HOURLY,
    ("coverage",),
    # The file column is `hour_start` because `hour` is also the hive partition key.
    (
        View(
            "coverage",
            """SELECT tier, hour_start AS hour, expected, captured, coverage, instants, instants_with_misses, computed_at,
                  coalesce(in_progress, false) AS in_progress, coalesce(measured_until, hour_start + INTERVAL 1 HOUR) AS measured_until,
                  coalesce(missed_planned_restart, 0) AS missed_planned_restart
           FROM src
           QUALIFY row_number() OVER (PARTITION BY tier, hour_start ORDER BY computed_at DESC) = 1""",
        ),
    ),
)
TRADES = Table(
    "trades",
    schemas.TRADES_SCHEMA,
    HOURLY,
    ("trades",),
    (View("trades", TRADES_SQL), View("large_trades", LARGE_TRADES_SQL)),
)
BOOK_UPDATES = Table(
    "book_updates", schemas.BOOK_UPDATES_SCHEMA, HOURLY, ("book_updates",), (View("book_updates"),)
)
WS_GAPS = Table(
    "ws_gaps",
    schemas.WS_GAPS_SCHEMA,
    HOURLY,
    ("ws_gaps",),
    (
        View(
            "ws_gaps",
            """SELECT connection_id, start_ts, end_ts, reason, detail, n_assets, condition_id,
                  epoch(end_ts) - epoch(start_ts) AS seconds, gap_id, run_id, detected_at
           FROM src""",
        ),
    ),
)
WHALE_EVENTS = Table(
    "whale_events", schemas.WHALE_EVENTS_SCHEMA, HOURLY, ("whale_events",), (View("whale_events"),)
)
MARKET_EVENTS = Table(
    "market_events",
    schemas.MARKET_EVENTS_SCHEMA,
    HOURLY,
    ("market_events",),
    (
        View("market_events"),
        # Each websocket `market_resolved` as a provisional label, seconds after the fact; `resolutions`
        # holds the strict label that confirms or contradicts it.
        View(
            "provisional_resolutions",
            """SELECT condition_id, outcome, winning_asset_id, winning_outcome, exchange_ts AS resolved_at, source,
                  detail, received_at
           FROM src WHERE event_type = 'market_resolved'
           QUALIFY row_number() OVER (PARTITION BY condition_id ORDER BY exchange_ts DESC) = 1""",
        ),
    ),
)
FEATURES = Table("features", schemas.FEATURE_SCHEMA, DAILY, ("features",), (View("features"),))
TRAINING_SET = Table(
    "training_set", schemas.TRAINING_SET_SCHEMA, UNPARTITIONED, ("training_set",), (View("training_set"),)
)
PREDICTIONS = Table(
    "predictions",
    schemas.PREDICTION_SCHEMA,
    HOURLY,
    ("predictions",),
    (
        View("predictions"),
        # The latest predictions only: one row per open market from the newest run.
        View(
            "latest_predictions",
            f"SELECT {EVERY_FILE_COLUMN} FROM src QUALIFY predicted_at = max(predicted_at) OVER ()",
        ),
    ),
)
MODEL_EVALUATIONS = Table(
    "model_evaluations",
    schemas.EVALUATION_SCHEMA,
    UNPARTITIONED,
    ("model_evaluation",),
    (View("model_evaluations"),),
)
BACKTEST_BETS = Table(
    "backtest_bets", schemas.BACKTEST_BETS_SCHEMA, UNPARTITIONED, ("backtest",), (View("backtest_bets"),)
)

TABLES = (
    MARKETS_CURRENT,
    MARKET_STATES,
    SNAPSHOTS,
    ORDERBOOKS,
    SWEEPS,
    TIER_TRANSITIONS,
    RESOLUTIONS,
    COVERAGE,
    TRADES,
    BOOK_UPDATES,
    WS_GAPS,
    WHALE_EVENTS,
    MARKET_EVENTS,
    FEATURES,
    TRAINING_SET,
    PREDICTIONS,
    MODEL_EVALUATIONS,
    BACKTEST_BETS,
)


def table(name: str) -> Table:
    for t in TABLES:
        if t.name == name:
            return t
    raise KeyError(f"no lake table {name!r}")


def views() -> list[ViewSpec]:
    """Every warehouse view, in declaration order."""
    return [spec for t in TABLES for spec in t.view_specs()]


def producers() -> list[str]:
    """Every asset that writes a lake table, once each, in declaration order."""
    return list(dict.fromkeys(asset for t in TABLES for asset in t.producers))
