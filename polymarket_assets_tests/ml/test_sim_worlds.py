"""The ML assets on worlds recorded by the real collection assets: labels, artifacts, and whether the model
finds the informed flow (and only it).

The simulator's fair price is a calibrated martingale (tested in the simulator's own suite), so the market mid
is an honest baseline: the informed world's model must beat it, and the null world's must not.
"""

import numpy as np
import pyarrow.compute as pc
import pytest

from polymarket_assets.lib.fees import fee_per_share, schedule_from_columns
from polymarket_assets.lib.labels import INVALID, NO, YES
from polymarket_assets.lib.ml import pipeline
from polymarket_assets.lib.ml.model import latest_version, models_dir
from polymarket_assets.lib.parquet_store import Lake
from polymarket_assets_tests.ml.conftest import evaluation_of


def test_history_is_recorded_by_real_runs_without_failures(signal_world):
    assert signal_world.failed_runs == []
    stats = signal_world.stats
    assert stats["steps"] == 8 and stats["runs"] >= 8 * 4
    trades = Lake(signal_world.data_dir).read("trades", columns=["source", "notional_usd"])
    assert trades is not None and trades.num_rows == stats["trades_backfilled"] > 1000
    assert set(trades.column("source").to_pylist()) == {"data_api"}  # the recorder's backfill path


def test_training_labels_are_the_simulators_outcomes_and_invalid_markets_are_excluded(signal_world):
    table = pipeline.read_training_set(signal_world.data_dir)
    truth = signal_world.truth
    labels = dict(zip(table.column("condition_id").to_pylist(), table.column("label").to_pylist()))
    assert len(labels) >= 150
    for cid, label in labels.items():
        assert truth[cid]["outcome"] in (YES, NO)
        assert label == (1 if truth[cid]["outcome"] == YES else 0), cid
    invalid = {cid for cid, m in truth.items() if m["outcome"] == INVALID and m["state"] == "resolved"}
    assert not invalid & set(labels)
    metadata = signal_world.evaluation["training_set"]
    seen_invalid = invalid & _markets_with_rows(signal_world)
    assert 0 < metadata["excluded_invalid"] <= len(seen_invalid) or not seen_invalid
    assert metadata["excluded_unresolved"] > 0  # closed within the last hours of the window, not yet resolved


def _markets_with_rows(world) -> set[str]:
    features = Lake(world.data_dir).read("features", columns=["condition_id", "ts", "end_date"])
    ids = set()
    for cid, ts, end in zip(*(features.column(c).to_pylist() for c in ("condition_id", "ts", "end_date"))):
        if end is not None and (end - ts).total_seconds() <= 29 * 3600:
            ids.add(cid)
    return ids


def test_model_artifact_evaluation_and_backtest_are_recorded(signal_world):
    version = latest_version(signal_world.data_dir)
    directory = models_dir(signal_world.data_dir) / version
    import json

    meta = json.loads((directory / "meta.json").read_text())
    assert (directory / "model.json").stat().st_size > 1000
    assert meta["features"][0] == "price" and "whale_net_count_7d" in meta["features"]
    assert meta["training_window"]["last_train_label"] < meta["training_window"]["first_test_row"]
    assert meta["evaluation"]["rows"] > 0 and "backtest" in meta
    assert (directory / "reliability.png").read_bytes()[:4] == b"\x89PNG"
    metadata = signal_world.evaluation["model_evaluation"]
    assert metadata["reliability_diagram"].startswith("![reliability diagram](data:image/png;base64,")
    assert "| feature | share of gain |" in metadata["feature_importance"]
    assert metadata["model_version"] == version
    backtest = signal_world.evaluation["backtest"]
    assert backtest["bets"] == signal_world.figures["backtest_bets"]
    if backtest["sharpe"] is not None and backtest["sharpe"] > 2:
        assert backtest["sharpe_warning"] is True and "leakage" in backtest["warning"]


def test_backtest_bets_follow_the_execution_rules(signal_world):
    bets = Lake(signal_world.data_dir).read("backtest_bets")
    assert bets is not None and bets.num_rows > 0
    for bet in bets.to_pylist():
        assert (bet["entry_ts"] - bet["decision_ts"]).total_seconds() >= 30
        assert bet["entry_ts"] < bet["settle_ts"]
        assert bet["edge_at_entry"] > 0 and bet["shares"] > 0
        won = (bet["outcome"] == 1) == (bet["side"] == "YES")
        assert bet["pnl_usd"] == pytest.approx(
            bet["shares"] * (1.0 if won else 0.0) - bet["cost_usd"] - bet["fee_usd"]
        )


def test_predictions_cover_open_markets_with_the_model_version(signal_world):
    predictions = Lake(signal_world.data_dir).read("predictions")
    assert predictions is not None and predictions.num_rows > 20
    assert set(predictions.column("model_version").to_pylist()) == {latest_version(signal_world.data_dir)}
    p = np.asarray(predictions.column("p_yes").to_pylist())
    assert np.all((p > 0) & (p < 1))
    # The edge is net of the market's own taker fee (its schedule in markets_current; 0 where fees are off).
    schedules = {
        r["condition_id"]: schedule_from_columns(r)
        for r in Lake(signal_world.data_dir).read("markets_current").to_pylist()
    }
    assert any(s is not None for s in schedules.values()) and any(s is None for s in schedules.values())
    for row in predictions.to_pylist():
        if row["best_ask"] is not None:
            assert row["edge_buy_yes"] == pytest.approx(
                row["p_yes"]
                - row["best_ask"]
                - fee_per_share(row["best_ask"], schedules[row["condition_id"]])
            )


def test_informed_whales_reach_the_features(signal_world, null_world):
    def agreement(world):
        table = pipeline.read_training_set(world.data_dir)
        net = np.asarray(table.column("whale_net_count_7d").to_pylist(), dtype=float)
        y = np.asarray(table.column("label").to_pylist())
        mask = net != 0
        return float(np.mean((net[mask] > 0) == (y[mask] == 1))), int(mask.sum())

    informed, n_informed = agreement(signal_world)
    null, n_null = agreement(null_world)
    assert n_informed > 100 and n_null > 50
    assert informed > 0.8 and null < 0.65


def test_the_model_beats_the_mid_when_whales_are_informed(signal_world):
    evaluation = evaluation_of(signal_world)
    overall = evaluation["overall"]
    delta = overall["delta_brier_vs_market"]
    assert delta["ci_high"] < 0, delta
    assert overall["clusters"] >= 30
    assert signal_world.figures["delta_brier_ci"] == [delta["ci_low"], delta["ci_high"]]
    assert evaluation["canaries_null"] is True, evaluation["canaries"]


def test_without_informed_flow_the_model_does_not_beat_the_market(null_world):
    """No signal in the data, so a CI of ΔBrier against the mid entirely below 0 would mean leakage."""
    evaluation = evaluation_of(null_world)
    overall = evaluation["overall"]
    for baseline in ("delta_brier_vs_market", "delta_brier_vs_isotonic"):
        delta = overall[baseline]
        assert delta["ci_high"] >= 0, (baseline, delta)
    assert evaluation["verdict"] != "gain" and evaluation["canaries_null"] is True
    assert overall["clusters"] >= 20


def test_feature_rows_exist_for_every_recorded_snapshot(signal_world):
    lake = Lake(signal_world.data_dir)
    features = lake.read("features", columns=["condition_id", "ts"])
    snapshots = lake.read("snapshots", columns=["condition_id", "mid", "last_trade_price"])
    priced = pc.sum(
        pc.or_(pc.is_valid(snapshots.column("mid")), pc.is_valid(snapshots.column("last_trade_price")))
    ).as_py()
    assert features.num_rows == priced
