"""The training set: features at fixed horizons before close, strict labels, and a time split by cluster.

- **Horizon rows.** For each market and horizon h (24 h, 4 h, 1 h), the latest feature row at or before
  `close - h`, and no older than `close - h - tolerance(h)`. `close` is the market's end date as last
  recorded by discovery; it only chooses *which* row is scored, the row's own values are point-in-time.
- **Labels.** The resolutions view's rule (a market's latest check, a final label never replaced by a later
  UNKNOWN), then only YES (1) and NO (0) are kept; INVALID, UNKNOWN and markets with no check yet are
  excluded and counted. The labels themselves come from `lib/labels.py` (strict one-hot / single winner).
- **Split.** A cluster is a negRisk event (its markets resolve together) or a single market. Clusters are
  ordered by their last close and cut into train / validation / test by count, so every test market closes
  after every training market and no market or event is in two splits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from polymarket_assets.lib.labels import INVALID, NO, UNKNOWN, YES
from polymarket_assets.lib.ml.features import FEATURE_COLUMNS

HORIZONS_H = (24.0, 4.0, 1.0)
DEFAULT_TOLERANCE_H = {24.0: 1.0, 4.0: 0.5, 1.0: 0.25}
SPLITS = ("train", "validation", "test")


def labels_sql(resolutions: str) -> str:
    """One label per market, exactly as the `resolutions` view chooses it."""
    return f"""
        SELECT condition_id, outcome, resolved_at
        FROM {resolutions}
        WHERE condition_id IS NOT NULL
        QUALIFY row_number() OVER (
            PARTITION BY condition_id
            ORDER BY (outcome IN ('{YES}', '{NO}', '{INVALID}')) DESC, checked_at DESC) = 1
    """


def horizon_rows_sql(features: str, market_states: str, horizons: dict[float, float]) -> str:
    """Every market's feature row at each horizon (with `close`, `horizon_h`, `target_ts`)."""
    values = ", ".join(f"({float(h)}::DOUBLE, {float(tol)}::DOUBLE)" for h, tol in horizons.items())
    return f"""
        WITH closes AS (
            SELECT condition_id, end_date AS close_ts
            FROM {market_states}
            WHERE end_date IS NOT NULL
            QUALIFY row_number() OVER (PARTITION BY condition_id ORDER BY observed_at DESC) = 1
        ),
        markets AS (SELECT DISTINCT condition_id FROM {features}),
        horizons(horizon_h, tolerance_h) AS (VALUES {values}),
        targets AS (
            SELECT c.condition_id, c.close_ts, h.horizon_h, h.tolerance_h,
                   c.close_ts - to_microseconds(CAST(h.horizon_h * 3600e6 AS BIGINT)) AS target_ts
            FROM closes c JOIN markets USING (condition_id) CROSS JOIN horizons h
        )
        SELECT t.close_ts, t.horizon_h, t.target_ts, f.*
        FROM targets t ASOF JOIN {features} f
          ON t.condition_id = f.condition_id AND t.target_ts >= f.ts
        WHERE f.ts >= t.target_ts - to_microseconds(CAST(t.tolerance_h * 3600e6 AS BIGINT))
    """


@dataclass
class TrainingSet:
    table: pa.Table  # one row per (market, horizon), with `label`, `cluster` and `split`
    excluded: dict[str, int]  # markets with horizon rows but no usable label, by reason
    boundaries: dict[str, str] = field(default_factory=dict)


def build_training_set(
    con: duckdb.DuckDBPyConnection,
    features: str,
    market_states: str,
    resolutions: str,
    horizons: dict[float, float] | None = None,
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2),
) -> TrainingSet:
    horizons = horizons or dict(DEFAULT_TOLERANCE_H)
    sql = f"""
        WITH rows AS ({horizon_rows_sql(features, market_states, horizons)}),
        labels AS ({labels_sql(resolutions)}),
        clusters AS (
            SELECT condition_id, coalesce(max(event_key), condition_id) AS cluster
            FROM {features} GROUP BY condition_id
        )
        SELECT r.*, coalesce(l.outcome, 'UNRESOLVED') AS outcome, l.resolved_at, c.cluster
        FROM rows r LEFT JOIN labels l USING (condition_id) LEFT JOIN clusters c USING (condition_id)
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
    split, boundaries = time_split(table, fractions)
    table = table.append_column("split", pa.array(split, pa.string()))
    return TrainingSet(table, excluded, boundaries)


def time_split(table: pa.Table, fractions: tuple[float, float, float]) -> tuple[list[str], dict[str, str]]:
    """Assign whole clusters to train/validation/test in order of their last close."""
    if table.num_rows == 0:
        return [], {}
    clusters = table.column("cluster").to_pylist()
    closes = table.column("close_ts").to_pylist()
    last_close: dict[str, object] = {}
    for cluster, close in zip(clusters, closes):
        if cluster not in last_close or close > last_close[cluster]:
            last_close[cluster] = close
    ordered = sorted(last_close, key=lambda c: (last_close[c], c))
    n = len(ordered)
    cuts = np.cumsum(np.asarray(fractions, dtype=float) / float(sum(fractions))) * n
    n_train, n_val = round(float(cuts[0])), round(float(cuts[1]))
    if n >= 3:
        n_train = min(max(n_train, 1), n - 2)
        n_val = min(max(n_val, n_train + 1), n - 1)
    assignment: dict[str, str] = {}
    for i, cluster in enumerate(ordered):
        assignment[cluster] = "train" if i < n_train else ("validation" if i < n_val else "test")
    boundaries: dict[str, str] = {}
    for name in SPLITS:
        members = [last_close[c] for c in ordered if assignment[c] == name]
        if members:
            boundaries[f"{name}_first_close"] = min(members).isoformat()
            boundaries[f"{name}_last_close"] = max(members).isoformat()
    return [assignment[c] for c in clusters], boundaries


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
