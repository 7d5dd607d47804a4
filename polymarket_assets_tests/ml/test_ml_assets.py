"""The ML assets in process on a small synthetic lake: partition idempotency, the blocking gate, metadata."""

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from polymarket_assets.defs.ml.assets import backtest, features, model_evaluation, training_set, xgb_model
from polymarket_assets.defs.ml.checks import training_set_ready
from polymarket_assets.defs.resources import ClockResource, LakeResource
from polymarket_assets.lib.ml.model import latest_version, models_dir
from polymarket_assets.lib.ml.synthetic import generate_lake
from polymarket_assets.lib.parquet_store import Lake

START = datetime(2026, 11, 12, tzinfo=UTC)
DAYS = 4


@pytest.fixture(scope="module")
def lake_dir(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("synthetic")
    generate_lake(data_dir, markets=90, start=START, days=DAYS, seed=3, informed=0.8)
    instance = dg.DagsterInstance.ephemeral()
    for d in range(DAYS + 1):
        key = (START + timedelta(days=d)).strftime("%Y-%m-%d")
        assert dg.materialize(
            [features], partition_key=key, resources=_resources(data_dir), instance=instance
        ).success
    return data_dir


def _resources(data_dir):
    return {"lake": LakeResource(data_dir=str(data_dir)), "clock": ClockResource(source="system")}


def test_features_partition_replaces_itself(lake_dir):
    instance = dg.DagsterInstance.ephemeral()
    key = (START + timedelta(days=2)).strftime("%Y-%m-%d")
    result = dg.materialize([features], partition_key=key, resources=_resources(lake_dir), instance=instance)
    assert result.success
    files = Lake(lake_dir).files("features", {"date": key})
    assert len(files) == 1
    metadata = result.asset_materializations_for_node("features")[0].metadata
    assert metadata["dagster/row_count"].value > 1000 and metadata["markets"].value > 10
    assert [(e.check_name, e.passed) for e in result.get_asset_check_evaluations()] == [
        ("unique_market_instant", True)
    ]


def test_the_gate_blocks_training_and_everything_after_it(lake_dir):
    instance = dg.DagsterInstance.ephemeral()
    model_before = latest_version(lake_dir)
    result = dg.materialize(
        [training_set, training_set_ready, xgb_model, model_evaluation, backtest],
        resources=_resources(lake_dir),
        instance=instance,
        run_config={"ops": {"training_set_training_set_ready": {"config": {"min_rows": 10**6}}}},
        raise_on_error=False,
    )
    assert not result.success
    evaluations = result.get_asset_check_evaluations()
    assert [(e.check_name, e.passed) for e in evaluations] == [("training_set_ready", False)]
    materialized = {
        e.event_specific_data.materialization.asset_key.to_user_string()
        for e in result.get_asset_materialization_events()
    }
    assert materialized == {"training_set"}
    assert latest_version(lake_dir) == model_before


def test_training_evaluation_and_backtest_report_in_metadata(lake_dir):
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [training_set, training_set_ready, xgb_model, model_evaluation, backtest],
        resources=_resources(lake_dir),
        instance=instance,
        run_config={
            "ops": {
                "training_set_training_set_ready": {"config": {"min_rows": 50, "min_markets_per_split": 5}},
                "model_evaluation": {"config": {"bootstrap_replicates": 300}},
            }
        },
    )
    assert result.success
    by_asset = {
        e.asset_key.to_user_string(): e.metadata
        for e in (ev.event_specific_data.materialization for ev in result.get_asset_materialization_events())
    }
    ts = by_asset["training_set"]
    assert ts["rows_train"].value > ts["rows_test"].value > 0
    assert {"excluded_invalid", "excluded_unknown", "excluded_unresolved"} <= set(ts)
    model = by_asset["xgb_model"]
    version = model["model_version"].value
    assert (models_dir(lake_dir) / version / "model.json").exists()
    evaluation = by_asset["model_evaluation"]
    assert evaluation["reliability_diagram"].value.startswith("![reliability diagram](data:image/png;base64,")
    assert "Brier" in evaluation["scores"].value and "[95% CI]" in evaluation["scores"].value
    assert evaluation["delta_brier_vs_market_ci_low"].value <= evaluation["delta_brier_vs_market"].value
    bt = by_asset["backtest"]
    # The synthetic market quotes its fair price 1c either side and the model only re-learns it: its p never
    # leaves the quoted spread, so nothing has an edge. A bet here is a phantom edge (leakage, a mispriced fill).
    assert bt["bets"].value == 0 and bt["dagster/row_count"].value == 0 and bt["sharpe"].value is None
    assert isinstance(bt["sharpe_warning"].value, bool)
    assert ("leakage" in bt["warning"].value) == bt["sharpe_warning"].value
    assert evaluation["best_baseline"].value in (
        "market",
        "displayed",
        "isotonic",
        "platt",
        "price_bucket",
        "price_hours",
    )
    assert (
        evaluation["verdict"].value in ("gain", "none", "loss") and evaluation["canaries_null"].value is True
    )
    assert "shuffled_labels" in evaluation["canaries"].value and "pooled" in evaluation["walk_forward"].value
    assert (
        "category: " in evaluation["breakdowns"].value and "price_bucket: " in evaluation["breakdowns"].value
    )
    assert ts["purged_rows"].value >= 0 and "test_start" in ts["split_boundaries"].value
    assert "annualised_basis" in bt and "return_per_bet_mean" in bt and "max_concurrent_positions" in bt


def test_a_canary_that_beats_the_market_fails_the_evaluation(lake_dir, monkeypatch):
    """The canaries' own behaviour is tested on hand-built sets (test_evaluation.py); here, that a canary
    which is not null stops the asset loudly while its figures are still written for diagnosis."""
    import json

    from polymarket_assets.lib.ml import evaluation as evaluation_lib

    def leaking(training_set, split, replicates, seed):
        fired = {"delta": -0.05, "ci_low": -0.07, "ci_high": -0.03, "verdict": "gain", "null": False}
        return {"placebo_outcome": fired}

    monkeypatch.setattr(evaluation_lib, "run_canaries", leaking)
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [training_set, training_set_ready, xgb_model, model_evaluation],
        resources=_resources(lake_dir),
        instance=instance,
        run_config={
            "ops": {
                "training_set_training_set_ready": {"config": {"min_rows": 50, "min_markets_per_split": 5}},
                "model_evaluation": {"config": {"bootstrap_replicates": 100, "walk_forward_folds": 0}},
            }
        },
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "leak canaries beat the market: ['placebo_outcome']" in str(failure.event_specific_data.error)
    written = json.loads((models_dir(lake_dir) / latest_version(lake_dir) / "evaluation.json").read_text())
    assert written["canaries_null"] is False
