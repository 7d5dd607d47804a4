"""The XGBoost model and its versioned artifact under `<data_dir>/models/`.

The booster starts from the market's own log-odds (`base_margin = logit(price)`) and learns corrections to
it, so with few resolved markets it stays close to the price instead of re-learning the identity p ≈ price
from scratch; any gain it shows is therefore a gain *over* the price. Training uses the hist method on the
CPU with early stopping on the validation split.

Artifact layout (a version is written to a temporary directory and renamed into place, then `latest.json`
is replaced atomically, so a reader never sees a half-written model):

    models/<version>/model.json      the booster (XGBoost JSON)
    models/<version>/meta.json       features, category vocabulary, params, training window, metrics
    models/latest.json               {"version": ..., "path": ...}
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from polymarket_assets.lib.ml.dataset import feature_matrix
from polymarket_assets.lib.parquet_store import local_data_dir
from polymarket_assets.lib.schemas import FEATURE_COLUMNS

if TYPE_CHECKING:
    import xgboost as xgb
    from numpy.typing import ArrayLike
# XGBoost is imported where it is used: every run worker loads this code location, and the import (over a
# second here) would otherwise slow the start of every collection slot run.

PRICE_CLIP = 0.005
DEFAULT_PARAMS = {
    "objective": "binary:logistic",
    "eval_metric": "logloss",
    "tree_method": "hist",
    "device": "cpu",
    "max_depth": 3,
    "eta": 0.05,
    "min_child_weight": 5.0,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "lambda": 5.0,
    "nthread": 2,
    "seed": 0,
}


def price_margin(price: ArrayLike) -> np.ndarray:
    """Market log-odds; a missing price counts as 0.5 (margin 0)."""
    p = np.clip(np.nan_to_num(np.asarray(price, dtype=float), nan=0.5), PRICE_CLIP, 1 - PRICE_CLIP)
    return np.log(p / (1 - p))


@dataclass
class Model:
    booster: xgb.Booster
    features: list[str]
    category_vocab: list[str]
    best_iteration: int
    use_market_margin: bool = True
    meta: dict = field(default_factory=dict)

    @property
    def version(self) -> str:
        return str(self.meta.get("version", ""))

    def matrix(self, table: pa.Table) -> xgb.DMatrix:
        import xgboost as xgb

        x = feature_matrix(table, self.features, self.category_vocab)
        margin = price_margin(column_array(table, "price")) if self.use_market_margin else None
        return xgb.DMatrix(
            x, base_margin=margin, feature_names=[*self.features, "category_code"], missing=np.nan
        )

    def predict(self, table: pa.Table) -> np.ndarray:
        if table.num_rows == 0:
            return np.empty(0)
        return self.booster.predict(self.matrix(table), iteration_range=(0, self.best_iteration + 1))

    def importances(self, kind: str = "total_gain") -> dict[str, float]:
        scores = self.booster.get_score(importance_type=kind)
        total = sum(scores.values()) or 1.0
        return dict(sorted(((k, v / total) for k, v in scores.items()), key=lambda kv: -kv[1]))


def column_array(table: pa.Table, name: str) -> np.ndarray:
    import pyarrow.compute as pc

    return pc.fill_null(pc.cast(table.column(name), pa.float64()), float("nan")).to_numpy(
        zero_copy_only=False
    )


def category_vocabulary(table: pa.Table) -> list[str]:
    return sorted({c for c in table.column("category").to_pylist() if c is not None})


def train(
    train_rows: pa.Table,
    validation_rows: pa.Table,
    params: dict | None = None,
    num_boost_round: int = 400,
    early_stopping_rounds: int = 40,
    use_market_margin: bool = True,
    features: list[str] | None = None,
) -> Model:
    params = {**DEFAULT_PARAMS, **(params or {})}
    features = list(features or FEATURE_COLUMNS)
    vocab = category_vocabulary(train_rows)
    proto = Model(None, features, vocab, 0, use_market_margin)  # type: ignore[arg-type]
    dtrain = proto.matrix(train_rows)
    dtrain.set_label(column_array(train_rows, "label"))
    dval = proto.matrix(validation_rows)
    dval.set_label(column_array(validation_rows, "label"))
    import xgboost as xgb

    booster = xgb.train(
        params,
        dtrain,
        num_boost_round=num_boost_round,
        evals=[(dtrain, "train"), (dval, "validation")],
        early_stopping_rounds=early_stopping_rounds,
        verbose_eval=False,
    )
    best = int(getattr(booster, "best_iteration", num_boost_round - 1))
    proto.booster = booster
    proto.best_iteration = best
    proto.meta = {
        "params": params,
        "num_boost_round": num_boost_round,
        "early_stopping_rounds": early_stopping_rounds,
        "best_score_validation_logloss": float(getattr(booster, "best_score", float("nan"))),
    }
    return proto


def data_fingerprint(table: pa.Table) -> str:
    """A short hash of the training rows' identities and labels (the same data gives the same hash)."""
    digest = hashlib.sha256()
    for name in ("condition_id", "horizon_h", "ts", "label", "split"):
        digest.update(str(table.column(name).to_pylist()).encode())
    return digest.hexdigest()[:10]


def new_version(now: datetime, fingerprint: str) -> str:
    return f"xgb-{now.astimezone(UTC):%Y%m%dT%H%M%S}-{fingerprint}"


def models_dir(data_dir: str | os.PathLike) -> Path:
    return local_data_dir(data_dir, "the model artifacts") / "models"


def save(model: Model, data_dir: str | os.PathLike, meta: dict) -> Path:
    """Write the version directory atomically, then point `latest.json` at it."""
    root = models_dir(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    version = meta["version"]
    final = root / version
    tmp = root / f".tmp-{uuid.uuid4().hex}-{version}"
    tmp.mkdir()
    try:
        model.booster.save_model(str(tmp / "model.json"))
        full_meta = {
            **model.meta,
            **meta,
            "features": model.features,
            "category_vocab": model.category_vocab,
            "best_iteration": model.best_iteration,
            "use_market_margin": model.use_market_margin,
        }
        (tmp / "meta.json").write_text(json.dumps(full_meta, indent=2, default=str))
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    model.meta = full_meta
    write_json_atomic(root / "latest.json", {"version": version, "path": str(final)})
    return final


def write_json_atomic(path: Path, payload: dict) -> None:
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex}-{path.name}")
    tmp.write_text(json.dumps(payload, indent=2, default=str))
    os.replace(tmp, path)


def update_meta(data_dir: str | os.PathLike, version: str, extra: dict) -> None:
    path = models_dir(data_dir) / version / "meta.json"
    meta = json.loads(path.read_text())
    meta.update(extra)
    write_json_atomic(path, meta)


def latest_version(data_dir: str | os.PathLike) -> str | None:
    pointer = models_dir(data_dir) / "latest.json"
    if not pointer.exists():
        return None
    return json.loads(pointer.read_text())["version"]


def load(data_dir: str | os.PathLike, version: str | None = None) -> Model:
    version = version or latest_version(data_dir)
    if version is None:
        raise FileNotFoundError(f"no model under {models_dir(data_dir)}; materialize xgb_model first")
    directory = models_dir(data_dir) / version
    meta = json.loads((directory / "meta.json").read_text())
    import xgboost as xgb

    booster = xgb.Booster()
    booster.load_model(str(directory / "model.json"))
    return Model(
        booster,
        list(meta["features"]),
        list(meta["category_vocab"]),
        int(meta["best_iteration"]),
        bool(meta.get("use_market_margin", True)),
        meta,
    )
