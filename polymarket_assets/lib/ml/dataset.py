"""The training set: features at fixed horizons before close, strict labels, and a purged time split.

- **Horizon rows.** A market's row for horizon h is chosen with the end date *known at each instant*, never
  with a later revision: the decision instant is the first instant t at which t >= end_date(t) - h, where
  end_date(t) is the end date of the market's latest discovery state observed at or before t (a stopping
  time: it is decided with what was known then). The row is the latest feature row at or before that instant,
  no older than `tolerance(h)`, whose own point-in-time `hours_to_close` is within `tolerance(h)` of h. An end
  date pulled in (on Polymarket, usually a "by date X" market that resolved early) therefore gives no row
  rather than a row chosen with knowledge of the resolution. No row is at or after the market's
  `resolved_at` or `closed_time`. `close_ts` is the end date known at the row.
- **Labels.** The resolutions view's rule (a market's latest check, a final label never replaced by a later
  UNKNOWN), then only YES (1) and NO (0) are kept; INVALID, UNKNOWN and markets with no check yet are
  excluded and counted. The labels themselves come from `lib/labels.py` (strict one-hot / single winner).
  `label_ts` is when the label became a fact: `resolved_at`, else the check that first saw it.
- **Clusters.** Markets of one event resolve on the same news (a negRisk field, but also a moneyline with its
  spread and totals, or a ladder of thresholds), so the cluster is the event: the negRisk market id for a negRisk
  market, else `event_id`, else the market itself. The cluster is the unit of the split and of every bootstrap.
- **Split.** Two instants cut the history: test starts at `t_test`, validation at `t_val`. A cluster's label
  time is the last `label_ts` of its markets. Training clusters must have resolved before `t_val - embargo`,
  validation clusters in [t_val, t_test - embargo), test clusters at or after t_test; a validation or test
  cluster keeps only its rows at or after its split's start. Everything else is purged: the clusters
  resolving inside an embargo, and the rows before a split's start whose labels resolve after it. `t_test`
  is chosen (among row instants) so that the test rows make up about the test fraction of the rows kept,
  then `t_val` likewise among the rest.
  So every label the model is fitted or early-stopped on was a fact before the first test instant, which the
  blocking gate check (`defs/ml/checks.py`) asserts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from polymarket_assets.lib.labels import INVALID, NO, UNKNOWN, YES
from polymarket_assets.lib.schemas import FEATURE_COLUMNS

HORIZONS_H = (24.0, 4.0, 1.0)
DEFAULT_TOLERANCE_H = {24.0: 1.0, 4.0: 0.5, 1.0: 0.25}
SPLITS = ("train", "validation", "test")
PURGED = "purged"  # the split of a row the purge or the embargo removed
# Labels resolving this close before a split's first instant are purged too: news that resolves one market
# often moves its neighbours a little earlier.
DEFAULT_EMBARGO_H = 2.0


def labels_sql(resolutions: str) -> str:
    """One label per market, exactly as the `resolutions` view chooses it."""
    return f"""
        SELECT condition_id, outcome, resolved_at,
               coalesce(resolved_at, min(checked_at) OVER (PARTITION BY condition_id, outcome)) AS label_ts
        FROM {resolutions}
        WHERE condition_id IS NOT NULL
        QUALIFY row_number() OVER (
            PARTITION BY condition_id
            ORDER BY (outcome IN ('{YES}', '{NO}', '{INVALID}')) DESC, checked_at DESC) = 1
    """


def horizon_rows_sql(features: str, market_states: str, horizons: dict[float, float]) -> str:
    """Every market's feature row at each horizon (with `close_ts`, `horizon_h`, `target_ts`), the decision
    instant computed from the end date known at each instant (see the module docstring)."""
    values = ", ".join(f"({float(h)}::DOUBLE, {float(tol)}::DOUBLE)" for h, tol in horizons.items())
    return f"""
        WITH states AS (
            SELECT condition_id, observed_at, end_date,
                   lead(observed_at) OVER (PARTITION BY condition_id ORDER BY observed_at) AS next_observed_at
            FROM (
                SELECT condition_id, observed_at, end_date FROM {market_states}
                WHERE condition_id IS NOT NULL AND end_date IS NOT NULL
                QUALIFY row_number() OVER (PARTITION BY condition_id, observed_at ORDER BY end_date) = 1
            )
        ),
        markets AS (SELECT DISTINCT condition_id FROM {features}),
        horizons(horizon_h, tolerance_h) AS (VALUES {values}),
        crossings AS (
            -- While a state is the latest one, the horizon is reached at end_date - h (or at once, if that
            -- is already past when the state is observed).
            SELECT s.condition_id, h.horizon_h, h.tolerance_h,
                   greatest(s.observed_at,
                            s.end_date - to_microseconds(CAST(h.horizon_h * 3600e6 AS BIGINT))) AS crossing_ts,
                   s.next_observed_at
            FROM states s JOIN markets USING (condition_id) CROSS JOIN horizons h
        ),
        targets AS (
            SELECT condition_id, horizon_h, any_value(tolerance_h) AS tolerance_h, min(crossing_ts) AS target_ts
            FROM crossings
            WHERE next_observed_at IS NULL OR crossing_ts < next_observed_at
            GROUP BY condition_id, horizon_h
        ),
        ends AS (
            SELECT condition_id, min(closed_time) AS closed_time
            FROM {market_states} WHERE condition_id IS NOT NULL GROUP BY condition_id
        )
        SELECT f.end_date AS close_ts, t.horizon_h, t.target_ts, f.*
        FROM targets t ASOF JOIN {features} f
          ON t.condition_id = f.condition_id AND t.target_ts >= f.ts
        LEFT JOIN ends e ON e.condition_id = t.condition_id
        WHERE f.ts >= t.target_ts - to_microseconds(CAST(t.tolerance_h * 3600e6 AS BIGINT))
          AND abs(f.hours_to_close - t.horizon_h) <= t.tolerance_h
          AND (e.closed_time IS NULL OR f.ts < e.closed_time)
    """


@dataclass
class TrainingSet:
    table: (
        pa.Table
    )  # one row per (market, horizon), with `label`, `label_ts`, `cluster` and `split` (or PURGED)
    excluded: dict[str, int]  # markets with horizon rows but no usable label, by reason
    boundaries: dict[str, str] = field(default_factory=dict)
    purged: dict[str, int] = field(default_factory=dict)  # rows and clusters removed by the purge/embargo


def build_training_set(
    con: duckdb.DuckDBPyConnection,
    features: str,
    market_states: str,
    resolutions: str,
    horizons: dict[float, float] | None = None,
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2),
    embargo_h: float = DEFAULT_EMBARGO_H,
) -> TrainingSet:
    horizons = horizons or dict(DEFAULT_TOLERANCE_H)
    sql = f"""
        WITH rows AS ({horizon_rows_sql(features, market_states, horizons)}),
        labels AS ({labels_sql(resolutions)}),
        clusters AS (
            SELECT condition_id,
                   coalesce(arg_max(neg_risk_market_id, observed_at) FILTER (WHERE neg_risk AND neg_risk_market_id IS NOT NULL),
                            arg_max(event_id, observed_at) FILTER (WHERE event_id IS NOT NULL),
                            condition_id) AS cluster
            FROM {market_states} WHERE condition_id IS NOT NULL GROUP BY condition_id
        )
        SELECT r.*, coalesce(l.outcome, 'UNRESOLVED') AS outcome, l.resolved_at, l.label_ts,
               coalesce(c.cluster, r.condition_id) AS cluster
        FROM rows r LEFT JOIN labels l USING (condition_id) LEFT JOIN clusters c USING (condition_id)
        -- A row at or after the resolution is not a forecast.
        WHERE l.label_ts IS NULL OR r.ts < l.label_ts
        ORDER BY r.close_ts, r.condition_id, r.horizon_h DESC
    """
    rows = con.sql(sql).to_arrow_table()
    outcomes = rows.column("outcome").to_pylist()
    cids = rows.column("condition_id").to_pylist()
    excluded: dict[str, int] = {}
    seen: set[str] = set()
    for cid, outcome in zip(cids, outcomes):
        if outcome not in (YES, NO) and cid not in seen:
            seen.add(cid)
            reason = outcome if outcome in (INVALID, UNKNOWN) else "UNRESOLVED"
            excluded[reason] = excluded.get(reason, 0) + 1
    for reason in (INVALID, UNKNOWN, "UNRESOLVED"):
        excluded.setdefault(reason, 0)
    keep = pc.is_in(rows.column("outcome"), value_set=pa.array([YES, NO]))
    table = rows.filter(keep)
    label = pc.cast(pc.equal(table.column("outcome"), YES), pa.int64())
    table = table.append_column("label", label)
    split, boundaries, purged = time_split(table, fractions, embargo_h)
    # Purged rows stay, marked, for the walk-forward folds (which re-split the whole history).
    table = table.append_column("split", pa.array([s or PURGED for s in split], pa.string()))
    return TrainingSet(table, excluded, boundaries, purged)


def cluster_label_times(table: pa.Table) -> dict[str, datetime]:
    """Per cluster, when its last label became a fact."""
    out: dict[str, datetime] = {}
    for cluster, when in zip(table.column("cluster").to_pylist(), table.column("label_ts").to_pylist()):
        if cluster not in out or when > out[cluster]:
            out[cluster] = when
    return out


def time_split(
    table: pa.Table, fractions: tuple[float, float, float], embargo_h: float = DEFAULT_EMBARGO_H
) -> tuple[list[str | None], dict[str, str], dict[str, int]]:
    """Train / validation / test per row (None: purged), the split boundaries, and what the purge removed."""
    if table.num_rows == 0:
        return [], {}, {"clusters": 0, "rows": 0}
    label_time = cluster_label_times(table)
    embargo = timedelta(hours=embargo_h)
    # A split with no share starts after the last label (fractions (1, 0, 0) put everything in train).
    after_last = max(label_time.values()) + embargo + timedelta(microseconds=1)
    f_train, f_val, f_test = (float(f) for f in fractions)
    ts = table.column("ts").to_pylist()
    resolved = [label_time[c] for c in table.column("cluster").to_pylist()]
    total = f_train + f_val + f_test
    t_test = cut_instant(ts, resolved, f_test / total, embargo, None) if f_test > 0 else after_last
    t_val = cut_instant(ts, resolved, f_val / (f_train + f_val), embargo, t_test) if f_val > 0 else t_test
    return assign_splits(table, label_time, t_val, t_test, None, embargo)


def cut_instant(
    ts: list[datetime], resolved: list[datetime], share: float, embargo: timedelta, before: datetime | None
) -> datetime | None:
    """The start instant t at which the rows scored after it (at or after t, resolved at or after t) make up
    `share` of those kept (those plus the rows of clusters resolved before t - embargo), among rows whose
    cluster resolved before `before - embargo` (all rows if None). Every row dropped between the two is the
    purge's price: a row before t whose label resolves after t can be neither fitted nor scored."""
    ts_a = np.asarray([t.timestamp() for t in ts])
    res_a = np.asarray([r.timestamp() for r in resolved])
    if before is not None:
        keep = res_a < (before - embargo).timestamp()
        ts_a, res_a = ts_a[keep], res_a[keep]
    if ts_a.size == 0:
        return before
    emb = embargo.total_seconds()
    best, best_gap = None, None
    instants = np.unique(ts_a)
    if instants.size > 200:  # a long history: about 200 candidate instants are enough
        instants = np.unique(np.quantile(ts_a, np.linspace(0.0, 1.0, 200), method="lower"))
    for t in instants:
        scored = int(np.sum((ts_a >= t) & (res_a >= t)))
        fitted = int(np.sum(res_a < t - emb))
        if scored == 0 or fitted == 0:
            continue
        gap = abs(scored / (scored + fitted) - share)
        if best_gap is None or gap < best_gap:
            best, best_gap = t, gap
    if best is None:
        return before if before is not None else datetime.fromtimestamp(float(ts_a.max()) + 1, tz=UTC)
    return datetime.fromtimestamp(float(best), tz=UTC)


def assign_splits(
    table: pa.Table,
    label_time: dict[str, datetime],
    t_val: datetime,
    t_test: datetime,
    t_end: datetime | None,
    embargo: timedelta,
) -> tuple[list[str | None], dict[str, str], dict[str, int]]:
    """Each row's split, or None. Train: clusters resolved before `t_val - embargo`. Validation: resolved in
    [t_val, t_test - embargo), rows at or after t_val. Test: resolved in [t_test, t_end), rows at or after
    t_test. Clusters resolved inside an embargo, and rows before their split's start, are purged; clusters
    resolved at or after `t_end` (a later walk-forward fold) are simply not in this one."""
    starts = {"train": None, "validation": t_val, "test": t_test}

    def cluster_split(cluster: str) -> str:
        when = label_time[cluster]
        if t_end is not None and when >= t_end:
            return "later"
        if when < t_val - embargo:
            return "train"
        if t_val <= when < t_test - embargo:
            return "validation"
        return "test" if when >= t_test else "purged"

    out: list[str | None] = []
    purged_clusters: set[str] = set()
    purged_rows = 0
    kept: dict[str, tuple[list, list]] = {name: ([], []) for name in SPLITS}
    for cluster, ts in zip(table.column("cluster").to_pylist(), table.column("ts").to_pylist()):
        name = cluster_split(cluster)
        start = starts.get(name)
        if name == "later":
            out.append(None)
        elif name == "purged" or (start is not None and ts < start):
            purged_clusters.update([cluster] if name == "purged" else [])
            purged_rows += 1
            out.append(None)
        else:
            out.append(name)
            kept[name][0].append(ts)
            kept[name][1].append(label_time[cluster])
    boundaries = {
        "validation_start": t_val.isoformat(),
        "test_start": t_test.isoformat(),
        "embargo_h": f"{embargo.total_seconds() / 3600:g}",
    }
    if t_end is not None:
        boundaries["test_end"] = t_end.isoformat()
    for name, (rows_ts, labels_ts) in kept.items():
        if rows_ts:
            boundaries[f"{name}_first_row"] = min(rows_ts).isoformat()
            boundaries[f"{name}_last_label"] = max(labels_ts).isoformat()
    return out, boundaries, {"clusters": len(purged_clusters), "rows": purged_rows}


def feature_matrix(table: pa.Table, columns: list[str], category_vocab: list[str]) -> np.ndarray:
    """Float32 model inputs (NaN for missing), the category as its index in the training vocabulary."""
    out = np.empty((table.num_rows, len(columns) + 1), dtype=np.float32)
    for j, name in enumerate(columns):
        column = table.column(name)
        out[:, j] = pc.fill_null(pc.cast(column, pa.float64()), float("nan")).to_numpy(zero_copy_only=False)
    index = {c: i for i, c in enumerate(category_vocab)}
    out[:, -1] = [index.get(c, -1) for c in table.column("category").to_pylist()]
    return out


def model_columns() -> list[str]:
    return [*FEATURE_COLUMNS, "category_code"]
