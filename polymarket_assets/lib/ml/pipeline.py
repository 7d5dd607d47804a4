"""The steps behind the ML assets, on a data dir: training set, model, evaluation, predictions, backtest.

Each step reads the lake (and the model artifact) and writes its own lake table with the lake's atomic
writes; the Dagster assets in `defs/ml/` are thin wrappers that add metadata, checks and scheduling.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from polymarket_assets.lib import tables
from polymarket_assets.lib.fees import fee_per_share, schedule_from_columns
from polymarket_assets.lib.ml import model as model_lib
from polymarket_assets.lib.ml.backtest import BacktestConfig, Quote, band_levels, run_backtest, summarize
from polymarket_assets.lib.ml.dataset import DEFAULT_EMBARGO_H, TrainingSet, build_training_set
from polymarket_assets.lib.ml.evaluation import evaluate
from polymarket_assets.lib.ml.features import WHALE_USD, build_features
from polymarket_assets.lib.ml.sources import (
    CURRENT_FEES,
    FEATURES,
    MARKET_FEES,
    MARKET_STATES,
    MARKETS_CURRENT,
    ORDERBOOKS,
    RESOLUTIONS,
    connect,
    relation_sql,
)
from polymarket_assets.lib.parquet_store import Lake, local_data_dir
from polymarket_assets.lib.schemas import EVALUATION_SCHEMA, PREDICTION_SCHEMA

if TYPE_CHECKING:
    from polymarket_assets.lib.ml.backtest import Levels


def lake_root(data_dir: str | os.PathLike) -> Path:
    return local_data_dir(data_dir, "the ML layer") / "lake"


def make_training_set(
    data_dir: str | os.PathLike[str],
    horizons: dict[float, float],
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2),
    embargo_h: float = DEFAULT_EMBARGO_H,
) -> TrainingSet:
    root = lake_root(data_dir)
    con = connect()
    try:
        ts = build_training_set(
            con,
            relation_sql(root, FEATURES),
            relation_sql(root, MARKET_STATES),
            relation_sql(root, RESOLUTIONS),
            horizons=horizons,
            fractions=fractions,
            embargo_h=embargo_h,
        )
    finally:
        con.close()
    Lake(data_dir).replace_partition(tables.TRAINING_SET.name, ts.table, {})
    return ts


def read_training_set(data_dir: str | os.PathLike[str]) -> pa.Table:
    table = Lake(data_dir).read(tables.TRAINING_SET.name)
    if table is None:
        raise FileNotFoundError("no training set yet: materialize training_set first")
    return table


def split(table: pa.Table, name: str) -> pa.Table:
    return table.filter(pc.equal(table.column("split"), name))


@dataclass
class TrainResult:
    model: model_lib.Model
    path: Path
    meta: dict


def train_and_save(
    data_dir: str | os.PathLike[str],
    table: pa.Table,
    now: datetime,
    params: dict | None = None,
    num_boost_round: int = 400,
    early_stopping_rounds: int = 40,
    use_market_margin: bool = True,
) -> TrainResult:
    train_rows, val_rows = split(table, "train"), split(table, "validation")
    model = model_lib.train(
        train_rows,
        val_rows,
        params=params,
        num_boost_round=num_boost_round,
        early_stopping_rounds=early_stopping_rounds,
        use_market_margin=use_market_margin,
    )
    fingerprint = model_lib.data_fingerprint(table)
    version = model_lib.new_version(now, fingerprint)
    ts_train = train_rows.column("ts")
    meta = {
        "version": version,
        "created_at": now.isoformat(),
        "data_fingerprint": fingerprint,
        "training_window": {
            "first_feature_ts": pc.min(ts_train).as_py().isoformat(),
            "last_feature_ts": pc.max(ts_train).as_py().isoformat(),
            "last_train_label": pc.max(train_rows.column("label_ts")).as_py().isoformat(),
            "first_test_row": _min_iso(split(table, "test"), "ts"),
        },
        "rows": {name: split(table, name).num_rows for name in ("train", "validation", "test")},
        "resolved_markets": len(set(table.column("condition_id").to_pylist())),
        "horizons_h": sorted(set(table.column("horizon_h").to_pylist()), reverse=True),
    }
    path = model_lib.save(model, data_dir, meta)
    return TrainResult(model, path, model.meta)


def _min_iso(table: pa.Table, column: str) -> str | None:
    if table.num_rows == 0:
        return None
    return pc.min(table.column(column)).as_py().isoformat()


def evaluate_and_save(
    data_dir: str | os.PathLike[str],
    model: model_lib.Model,
    table: pa.Table,
    now: datetime,
    replicates: int = 2000,
) -> dict:
    from polymarket_assets.lib.ml.evaluation import evaluation_rows

    result = evaluate(model, table, "test", replicates=replicates)
    rows = evaluation_rows(result, model.version, now)
    Lake(data_dir).write(
        tables.MODEL_EVALUATIONS.name, pa.Table.from_pylist(rows, schema=EVALUATION_SCHEMA), {}, model.version
    )
    return result


def walk_forward_of(model: model_lib.Model, table: pa.Table, folds: int, replicates: int) -> dict:
    """Rolling-origin folds over the training set (default embargo), each fitted with the model's settings."""
    from polymarket_assets.lib.ml.walkforward import walk_forward

    meta = model.meta
    train_kwargs = {
        "params": meta.get("params"),
        "num_boost_round": meta.get("num_boost_round", 400),
        "early_stopping_rounds": meta.get("early_stopping_rounds", 40),
        "use_market_margin": model.use_market_margin,
        "features": model.features,
    }
    return walk_forward(table, folds, replicates=replicates, train_kwargs=train_kwargs)


def predict_open_markets(
    data_dir: str | os.PathLike[str],
    model: model_lib.Model,
    now: datetime,
    lookback_h: float = 2.0,
    whale_usd: float = WHALE_USD,
) -> pa.Table:
    """The latest probability for every open market with a snapshot in the last `lookback_h` hours, and its
    edge over the executable prices after the market's own taker fee (buy YES at the ask, buy NO at 1 - bid)."""
    root = lake_root(data_dir)
    con = connect()
    try:
        features = build_features(
            con, root, now - timedelta(hours=lookback_h), now + timedelta(microseconds=1), whale_usd
        )
        open_ids = {
            r[0]
            for r in con.execute(
                f"SELECT condition_id FROM {relation_sql(root, MARKETS_CURRENT)} WHERE discovery_status = 'open'"
            ).fetchall()
        }
        schedules = {
            row["condition_id"]: schedule_from_columns(row)
            for row in con.sql(f"SELECT * FROM {relation_sql(root, CURRENT_FEES)}")
            .to_arrow_table()
            .to_pylist()
        }
    finally:
        con.close()
    latest: dict[str, int] = {}
    for i, (cid, ts) in enumerate(
        zip(features.column("condition_id").to_pylist(), features.column("ts").to_pylist())
    ):
        if cid in open_ids and (cid not in latest or ts >= features.column("ts")[latest[cid]].as_py()):
            latest[cid] = i
    rows = features.take(pa.array(sorted(latest.values()), pa.int64())) if latest else features.slice(0, 0)
    p = model.predict(rows)
    longest = max(model.meta.get("horizons_h") or [24.0]) + 2.0
    out = []
    for row, prob in zip(rows.to_pylist(), p.tolist()):
        bid, ask = row["best_bid"], row["best_ask"]
        schedule = schedules.get(row["condition_id"])
        edge_yes = prob - ask - fee_per_share(ask, schedule) if ask is not None else None
        edge_no = (1 - prob) - (1 - bid) - fee_per_share(1 - bid, schedule) if bid is not None else None
        best_side, best_edge = None, None
        for side, edge in (("YES", edge_yes), ("NO", edge_no)):
            if edge is not None and (best_edge is None or edge > best_edge):
                best_side, best_edge = side, edge
        out.append(
            {
                "condition_id": row["condition_id"],
                "predicted_at": now,
                "feature_ts": row["ts"],
                "model_version": model.version,
                "p_yes": prob,
                "price": row["price"],
                "best_bid": bid,
                "best_ask": ask,
                "edge_buy_yes": edge_yes,
                "edge_buy_no": edge_no,
                "best_side": best_side,
                "best_edge": best_edge,
                "hours_to_close": row["hours_to_close"],
                "tier": row["tier"],
                "within_training_horizons": row["hours_to_close"] is not None
                and row["hours_to_close"] <= longest,
            }
        )
    table = pa.Table.from_pylist(out, schema=PREDICTION_SCHEMA)
    Lake(data_dir).write(
        tables.PREDICTIONS.name, table, tables.PREDICTIONS.parts(now), f"predictions-{now:%Y%m%dT%H%M%S}"
    )
    return table


def _levels(raw: list[dict] | None, reverse: bool) -> Levels | None:
    """A recorded book side as (price, size) levels, best first (bids highest first, asks lowest first)."""
    if raw is None:
        return None
    merged: dict[float, float] = defaultdict(float)
    for level in raw:
        if level["price"] is not None and level["size"]:
            merged[float(level["price"])] += float(level["size"])
    return tuple(sorted(merged.items(), reverse=reverse))


def backtest_and_save(
    data_dir: str | os.PathLike[str],
    model: model_lib.Model,
    table: pa.Table,
    config: BacktestConfig,
    split_name: str = "test",
) -> tuple[pa.Table, dict]:
    """Replay every feature row of the split's markets through the model and the backtest: decisions while
    the market is open (before its end date as then known), fills walked along the recorded YES book at the
    entry snapshot (its depth bands when no book was recorded), settlement at the label's time."""
    markets = split(table, split_name)
    labels: dict[str, tuple[int, datetime]] = {}
    clusters: dict[str, str] = {}
    for row in markets.select(["condition_id", "label", "label_ts", "cluster"]).to_pylist():
        labels[row["condition_id"]] = (row["label"], row["label_ts"])
        clusters[row["condition_id"]] = row["cluster"]
    root = lake_root(data_dir)
    con = connect()
    try:
        con.register(
            "split_markets",
            pa.table({"condition_id": list(labels)}, schema=pa.schema([("condition_id", pa.string())])),
        )
        rows = con.sql(
            f"""SELECT f.*, b.bids AS book_bids, b.asks AS book_asks
                FROM {relation_sql(root, FEATURES)} f JOIN split_markets USING (condition_id)
                LEFT JOIN {relation_sql(root, ORDERBOOKS)} b
                  ON b.condition_id = f.condition_id AND b.token_id = f.yes_token_id AND b.captured_at = f.ts
                ORDER BY f.condition_id, f.ts"""
        ).to_arrow_table()
        closes = dict(
            con.execute(
                f"SELECT condition_id, min(closed_time) FROM {relation_sql(root, MARKET_STATES)} "
                "WHERE closed_time IS NOT NULL GROUP BY condition_id"
            ).fetchall()
        )
        fee_rows = con.sql(
            f"SELECT s.* FROM {relation_sql(root, MARKET_FEES)} s "
            "JOIN split_markets USING (condition_id) ORDER BY s.condition_id, s.observed_at"
        ).to_arrow_table()
    finally:
        con.close()
    p = model.predict(rows) if rows.num_rows else np.empty(0)
    decisions: dict[str, list] = defaultdict(list)
    quotes: dict[str, list] = defaultdict(list)
    names = [
        "condition_id",
        "ts",
        "best_bid",
        "best_ask",
        "mid",
        "hours_to_close",
        "book_bids",
        "book_asks",
        "bid_depth_1c",
        "bid_depth_5c",
        "ask_depth_1c",
        "ask_depth_5c",
    ]
    for row, prob in zip(rows.select(names).to_pylist(), p.tolist()):
        cid = row["condition_id"]
        tradable = row["hours_to_close"] is not None and row["hours_to_close"] > 0
        bids = _levels(row["book_bids"], reverse=True)
        asks = _levels(row["book_asks"], reverse=False)
        if bids is None:
            bids = band_levels(row["best_bid"], row["mid"], row["bid_depth_1c"], row["bid_depth_5c"], "bid")
        if asks is None:
            asks = band_levels(row["best_ask"], row["mid"], row["ask_depth_1c"], row["ask_depth_5c"], "ask")
        quotes[cid].append(Quote(row["ts"], row["best_bid"], row["best_ask"], bids, asks, tradable))
        if tradable:
            decisions[cid].append((row["ts"], prob))
    fee_schedules: dict[str, list] = defaultdict(list)
    for row in fee_rows.to_pylist():
        fee_schedules[row["condition_id"]].append((row["observed_at"], schedule_from_columns(row)))
    bets = run_backtest(
        decisions, quotes, labels, config, clusters=clusters, closes=closes, fee_schedules=fee_schedules
    )
    bets = bets.append_column("model_version", pa.array([model.version] * bets.num_rows, pa.string()))
    Lake(data_dir).write(tables.BACKTEST_BETS.name, bets, {}, model.version)
    summary = summarize(bets)
    summary["decision_rows"] = int(sum(len(v) for v in decisions.values()))
    summary["markets"] = len(labels)
    summary["markets_without_fee_schedule"] = sum(1 for cid in labels if cid not in fee_schedules)
    return bets, summary
