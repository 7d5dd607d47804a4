"""Warehouse views over the ML layer's lake tables (appended to the warehouse's `VIEWS`)."""

import pyarrow as pa

from polymarket_assets.lib.ml.backtest import BET_SCHEMA
from polymarket_assets.lib.ml.evaluation import EVALUATION_SCHEMA
from polymarket_assets.lib.ml.features import FEATURE_COLUMNS, ID_TYPES
from polymarket_assets.lib.ml.pipeline import PREDICTION_SCHEMA
from polymarket_assets.lib.warehouse import ViewSpec

_ARROW = {"VARCHAR": pa.string(), "TIMESTAMPTZ": pa.timestamp("us", tz="UTC"), "DOUBLE": pa.float64()}

FEATURE_SCHEMA = pa.schema(
    [(name, _ARROW[typ]) for name, typ in ID_TYPES.items()]
    + [(name, pa.float64()) for name in FEATURE_COLUMNS]
)
TRAINING_SET_SCHEMA = pa.schema(
    [("close_ts", _ARROW["TIMESTAMPTZ"]), ("horizon_h", pa.float64()), ("target_ts", _ARROW["TIMESTAMPTZ"])]
    + list(FEATURE_SCHEMA)
    + [
        ("outcome", pa.string()),
        ("resolved_at", _ARROW["TIMESTAMPTZ"]),
        ("label_ts", _ARROW["TIMESTAMPTZ"]),
        ("cluster", pa.string()),
        ("label", pa.int64()),
        ("split", pa.string()),
    ]
)

ML_VIEWS = [
    ViewSpec(
        "features",
        "features",
        FEATURE_SCHEMA.append(pa.field("date", pa.string())),
        "SELECT * EXCLUDE (date) FROM src",
    ),
    ViewSpec("training_set", "training_set", TRAINING_SET_SCHEMA, hive=False),
    ViewSpec(
        "predictions",
        "predictions",
        PREDICTION_SCHEMA.append(pa.field("date", pa.string())).append(pa.field("hour", pa.string())),
        "SELECT * EXCLUDE (date, hour) FROM src",
    ),
    # The latest predictions only: one row per open market from the newest run.
    ViewSpec(
        "latest_predictions",
        "predictions",
        PREDICTION_SCHEMA.append(pa.field("date", pa.string())).append(pa.field("hour", pa.string())),
        "SELECT * EXCLUDE (date, hour) FROM src QUALIFY predicted_at = max(predicted_at) OVER ()",
    ),
    ViewSpec("model_evaluations", "model_evaluations", EVALUATION_SCHEMA, hive=False),
    ViewSpec(
        "backtest_bets",
        "backtest_bets",
        BET_SCHEMA.append(pa.field("model_version", pa.string())),
        hive=False,
    ),
]
