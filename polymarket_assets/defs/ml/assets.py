"""The ML layer: point-in-time features → training set → XGBoost model → evaluation against the market,
predictions for open markets, and a backtest at executable prices.

The logic lives in `polymarket_assets/lib/ml/` (Dagster-free); these assets read and write the lake through
it and report what a user needs to judge the result. A ΔBrier far better than about -0.01, or a backtest
Sharpe above 2, is treated as a sign of leakage until proven otherwise (DESIGN.md).
"""

import json
import time

import dagster as dg
import pyarrow.compute as pc

from polymarket_assets.defs.ml.partitions import daily_partitions
from polymarket_assets.defs.partitions import partition_check_spec
from polymarket_assets.defs.resources import ClockResource, LakeResource
from polymarket_assets.lib.ml import model as model_lib
from polymarket_assets.lib.ml import pipeline
from polymarket_assets.lib.ml.backtest import BacktestConfig
from polymarket_assets.lib.ml.dataset import DEFAULT_EMBARGO_H
from polymarket_assets.lib.ml.evaluation import FORECASTERS
from polymarket_assets.lib.ml.features import WHALE_USD
from polymarket_assets.lib.ml.plots import importance_png, markdown_image, reliability_png
from polymarket_assets.lib.ml.store import write_features_partition
from polymarket_assets.lib.sql import sql_list
from polymarket_assets.lib.tiers import DEFAULT_PLAN

ML_GROUP = "ml"
COLLECTION_DEPS = ["markets", "trades", *DEFAULT_PLAN.asset_names]
SHARPE_WARNING = 2.0


class FeaturesConfig(dg.Config):
    whale_usd: float = WHALE_USD
    """A trade is a whale at or above this USD notional (size × price), never by share count."""


@dg.asset(
    partitions_def=daily_partitions,
    group_name=ML_GROUP,
    kinds={"duckdb", "parquet"},
    deps=COLLECTION_DEPS,
    backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=1),
    tags={"domain": "ml"},
    check_specs=[
        partition_check_spec(
            "unique_market_instant",
            "features",
            "One row per (market, instant) in the day's features.",
            daily_partitions,
        )
    ],
)
def features(
    context: dg.AssetExecutionContext, config: FeaturesConfig, lake: LakeResource
) -> dg.MaterializeResult:
    """One row per (market, snapshot instant) of the day: prices, book depth and walls, momentum, volume,
    trade and whale flow, time to close, negRisk consistency. Every value uses only data observed at or
    before the row's instant (as-of joins on `market_states`, trades counted from when they were observed)."""
    started = time.monotonic()
    day = context.partition_time_window.start.date()
    rows, paths = write_features_partition(lake.data_dir, day, config.whale_usd)
    from polymarket_assets.lib.ml.sources import connect

    con = connect()
    try:
        stats = con.execute(
            f"""SELECT count(DISTINCT condition_id), avg(CASE WHEN trade_count_1h > 0 THEN 1 ELSE 0 END),
                       avg(CASE WHEN end_date IS NULL THEN 1 ELSE 0 END), avg(CASE WHEN bid_depth IS NULL THEN 1 ELSE 0 END),
                       count(*) - count(DISTINCT (condition_id, ts))
                FROM read_parquet({sql_list(str(p) for p in paths)})"""
        ).fetchall()[0]
    finally:
        con.close()
    markets, traded, no_meta, no_book, duplicates = stats
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "markets": int(markets or 0),
            "share_rows_with_trades_1h": round(float(traded or 0.0), 4),
            "share_rows_without_metadata": round(float(no_meta or 0.0), 4),
            "share_rows_without_book": round(float(no_book or 0.0), 4),
            "path": dg.MetadataValue.path(str(paths[0].parent)),
            "files": len(paths),
            "duration_s": round(time.monotonic() - started, 3),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="unique_market_instant",
                passed=duplicates == 0,
                metadata={"duplicate_rows": int(duplicates)},
                description="One row per (market, instant): a slot the lake holds twice is used once.",
            )
        ],
    )


class TrainingSetConfig(dg.Config):
    horizons_h: list[float] = [24.0, 4.0, 1.0]  # noqa: RUF012 - pydantic copies field defaults
    """Hours before close at which a market is scored."""
    tolerance_h: list[float] = [1.0, 0.5, 0.25]  # noqa: RUF012
    """Per horizon: how much older than close - h the chosen row may be."""
    fractions: list[float] = [0.6, 0.2, 0.2]  # noqa: RUF012
    """Train / validation / test shares of the clusters (events, or single markets), in order of resolution."""
    embargo_h: float = DEFAULT_EMBARGO_H
    """Clusters resolving this close before the validation or test start are purged."""


@dg.asset(
    group_name=ML_GROUP,
    kinds={"duckdb", "parquet"},
    deps=["features", "resolutions", "markets"],
    tags={"domain": "ml"},
)
def training_set(config: TrainingSetConfig, lake: LakeResource) -> dg.MaterializeResult:
    """Features at 24 h, 4 h and 1 h before the close known at the time, joined to strict labels (YES/NO only;
    INVALID and UNKNOWN excluded and counted), split by resolution time into train / validation / test by
    event cluster, with a purge and an embargo so every fitted label resolved before the first test row."""
    if len(config.tolerance_h) != len(config.horizons_h) or len(config.fractions) != 3:
        raise dg.Failure("tolerance_h needs one value per horizon, and fractions three values")
    ts = pipeline.make_training_set(
        lake.data_dir,
        dict(zip(config.horizons_h, config.tolerance_h)),
        tuple(config.fractions),
        config.embargo_h,
    )
    table = ts.table
    by_split = {s: pipeline.split(table, s) for s in ("train", "validation", "test")}
    metadata = {
        "dagster/row_count": table.num_rows,
        "markets": len(set(table.column("condition_id").to_pylist())),
        "clusters": len(set(table.column("cluster").to_pylist())),
        **{f"rows_{s}": t.num_rows for s, t in by_split.items()},
        **{
            f"yes_share_{s}": round(float(pc.mean(t.column("label")).as_py() or 0.0), 4)
            for s, t in by_split.items()
            if t.num_rows
        },
        **{
            f"rows_{h:g}h": int(pc.sum(pc.equal(table.column("horizon_h"), h)).as_py() or 0)
            for h in config.horizons_h
        },
        **{f"excluded_{k.lower()}": v for k, v in ts.excluded.items()},
        "split_boundaries": dg.MetadataValue.json(ts.boundaries),
        "purged_rows": ts.purged.get("rows", 0),
        "purged_clusters": ts.purged.get("clusters", 0),
    }
    return dg.MaterializeResult(metadata=metadata)


class XgbModelConfig(dg.Config):
    num_boost_round: int = 400
    early_stopping_rounds: int = 40
    max_depth: int = 3
    eta: float = 0.05
    use_market_margin: bool = True
    """Start the booster from the market's log-odds, so it learns corrections to the price."""


@dg.asset(group_name=ML_GROUP, kinds={"xgboost"}, deps=["training_set"], tags={"domain": "ml"})
def xgb_model(config: XgbModelConfig, lake: LakeResource, clock: ClockResource) -> dg.MaterializeResult:
    """XGBoost (hist, CPU) trained on the train split with early stopping on validation, saved as a versioned
    artifact under `data/models/<version>/` (model JSON, feature list, training window, metrics)."""
    table = pipeline.read_training_set(lake.data_dir)
    now = clock.clock().now()
    result = pipeline.train_and_save(
        lake.data_dir,
        table,
        now,
        params={"max_depth": config.max_depth, "eta": config.eta},
        num_boost_round=config.num_boost_round,
        early_stopping_rounds=config.early_stopping_rounds,
        use_market_margin=config.use_market_margin,
    )
    meta = result.meta
    top = list(result.model.importances().items())[:10]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": meta["rows"]["train"],
            "model_version": meta["version"],
            "path": dg.MetadataValue.path(str(result.path)),
            "best_iteration": meta["best_iteration"],
            "validation_logloss": round(meta["best_score_validation_logloss"], 6),
            "resolved_markets": meta["resolved_markets"],
            "features": len(meta["features"]) + 1,
            "training_window": dg.MetadataValue.json(meta["training_window"]),
            "top_features": dg.MetadataValue.md(
                "\n".join(f"- `{k}`: {v:.3f}" for k, v in top) or "(no splits)"
            ),
        }
    )


class ModelEvaluationConfig(dg.Config):
    bootstrap_replicates: int = 2000
    walk_forward_folds: int = 3
    """Rolling-origin folds, each with its own fit (0: none)."""
    fail_on_canary: bool = True
    """A leak canary that beats the market fails the evaluation (the figures are still written)."""


def _ci(d: dict) -> str:
    return f"{d['delta']:+.4f} [{d['ci_low']:+.4f}, {d['ci_high']:+.4f}]"


def _score_table(result: dict) -> str:
    """Every forecaster per horizon, with the model's ΔBrier and ΔLogLoss against it."""
    header = (
        "| horizon | rows | forecaster | Brier | reliability | resolution | log loss | AUC | "
        "ΔBrier model − this [95% CI] | ΔLogLoss model − this [95% CI] |"
    )
    lines = [header, "|---|---|---|---|---|---|---|---|---|---|"]
    blocks = [("all", result["overall"])] + list(result["by_horizon"].items())
    for horizon, block in blocks:
        for name in FORECASTERS:
            s = block[name]
            best = " (best)" if name == result["best_baseline"] else ""
            delta = _ci(block[f"delta_brier_vs_{name}"]) if name != "model" else ""
            delta_ll = _ci(block[f"delta_log_loss_vs_{name}"]) if name != "model" else ""
            lines.append(
                f"| {horizon} | {block['rows']} | {name}{best} | {s['brier']:.4f} | {s['reliability']:.4f} | "
                f"{s['resolution']:.4f} | {s['log_loss']:.4f} | {s['auc']:.3f} | {delta} | {delta_ll} |"
            )
    return "\n".join(lines)


def _breakdown_table(result: dict) -> str:
    """Per category and price bucket: the model against the market and the best baseline."""
    best = result["best_baseline"]
    header = (
        f"| group | rows | clusters | Brier model | Brier market | ΔBrier vs market | ΔBrier vs {best} | "
        f"ΔLogLoss vs {best} |"
    )
    lines = [header, "|---|---|---|---|---|---|---|---|"]
    for kind in ("by_category", "by_price_bucket"):
        for key, block in result[kind].items():
            lines.append(
                f"| {kind.removeprefix('by_')}: {key} | {block['rows']} | {block['clusters']} | "
                f"{block['model']['brier']:.4f} | {block['market']['brier']:.4f} | "
                f"{_ci(block['delta_brier_vs_market'])} | {_ci(block[f'delta_brier_vs_{best}'])} | "
                f"{_ci(block[f'delta_log_loss_vs_{best}'])} |"
            )
    return "\n".join(lines)


def _canary_table(canaries: dict) -> str:
    lines = ["| canary | ΔBrier vs market [99% CI] | verdict | null |", "|---|---|---|---|"]
    for name, c in canaries.items():
        lines.append(f"| {name} | {_ci(c)} | {c['verdict']} | {'yes' if c['null'] else '**NO**'} |")
    return "\n".join(lines)


def _walk_forward_table(wf: dict) -> str:
    lines = ["| fold | test start | rows | clusters | ΔBrier vs market [95% CI] |", "|---|---|---|---|---|"]
    for fold in wf["folds"]:
        if "skipped" in fold:
            lines.append(
                f"| {fold['fold']} | {fold.get('test_start', '')} | skipped: {fold['skipped']} | | |"
            )
        else:
            lines.append(
                f"| {fold['fold']} | {fold['test_start']} | {fold['rows_test']} | {fold['clusters_test']} | "
                f"{_ci(fold['delta_brier_vs_market'])} |"
            )
    pooled = wf["pooled"]
    if pooled:
        lines.append(
            f"| pooled | | {pooled['rows']} | {pooled['clusters']} | {_ci(pooled['delta_brier_vs_market'])}; "
            f"vs {pooled['best_baseline']} {_ci(pooled['delta_brier_vs_best'])}: {pooled['verdict']} |"
        )
    return "\n".join(lines)


@dg.asset(
    group_name=ML_GROUP,
    kinds={"xgboost", "parquet"},
    deps=["xgb_model", "training_set"],
    automation_condition=dg.AutomationCondition.eager(),
    tags={"domain": "ml"},
)
def model_evaluation(
    config: ModelEvaluationConfig, lake: LakeResource, clock: ClockResource
) -> dg.MaterializeResult:
    """The latest model on the test split against six baselines fitted on train (market mid, displayed
    price, isotonic, Platt, price bucket, price + hours to close), reported against the best of them:
    ΔBrier and ΔLogLoss with clustered 95% CIs, per horizon, category and price bucket, the Brier
    decomposition, a verdict with a minimum effect size, walk-forward folds pooled, and three leak canaries
    that must come out null (else the evaluation fails)."""
    model = model_lib.load(lake.data_dir)
    table = pipeline.read_training_set(lake.data_dir)
    now = clock.clock().now()
    result = pipeline.evaluate_and_save(
        lake.data_dir, model, table, now, replicates=config.bootstrap_replicates
    )
    preds, y = result.pop("_predictions"), result.pop("_labels")
    best = result["best_baseline"]
    curves = {"model": (preds["model"], y), "market": (preds["market"], y)}
    curves[f"{best} (best baseline)"] = (preds[best], y)
    png = reliability_png(curves)
    if config.walk_forward_folds > 0:
        result["walk_forward"] = pipeline.walk_forward_of(
            model, table, config.walk_forward_folds, config.bootstrap_replicates
        )
    directory = model_lib.models_dir(lake.data_dir) / model.version
    (directory / "reliability.png").write_bytes(png)
    importances = model.importances()
    (directory / "evaluation.json").write_text(json.dumps(result, indent=2, default=str))
    model_lib.update_meta(
        lake.data_dir,
        model.version,
        {
            "evaluation": result["overall"],
            "verdict": result["verdict"],
            "best_baseline": best,
            "canaries_null": result["canaries_null"],
        },
    )
    overall = result["overall"]
    vs_market, vs_best = overall["delta_brier_vs_market"], result["vs_best"]
    warning = ""
    if vs_best["delta"] < -0.03:
        warning = (
            f"**Warning: ΔBrier vs the best baseline is {vs_best['delta']:+.4f}.** The best published feature "
            "models gain about 0.009; treat a gain this large as leakage until proven otherwise.\n\n"
        )
    if not result["canaries_null"]:
        warning = "# ⚠️ A leak canary beat the market: the evaluation leaks\n\n" + warning
    imp_md = "\n".join(f"| `{k}` | {v:.3f} |" for k, v in list(importances.items())[:15])
    metadata = {
        "dagster/row_count": overall["rows"],
        "model_version": model.version,
        "test_markets": overall["markets"],
        "test_clusters": overall["clusters"],
        "best_baseline": best,
        "verdict": result["verdict"],
        "min_effect_brier": result["min_effect_brier"],
        "brier_model": round(overall["model"]["brier"], 6),
        "brier_market": round(overall["market"]["brier"], 6),
        "brier_best_baseline": round(overall[best]["brier"], 6),
        "delta_brier_vs_best": round(vs_best["delta"], 6),
        "delta_brier_vs_best_ci_low": round(vs_best["ci_low"], 6),
        "delta_brier_vs_best_ci_high": round(vs_best["ci_high"], 6),
        "delta_log_loss_vs_best": round(overall[f"delta_log_loss_vs_{best}"]["delta"], 6),
        "delta_brier_vs_market": round(vs_market["delta"], 6),
        "delta_brier_vs_market_ci_low": round(vs_market["ci_low"], 6),
        "delta_brier_vs_market_ci_high": round(vs_market["ci_high"], 6),
        "reliability_model": round(overall["model"]["reliability"], 6),
        "resolution_model": round(overall["model"]["resolution"], 6),
        "auc_model": round(overall["model"]["auc"], 4),
        "ece_model": round(overall["model"]["ece"], 4),
        "canaries_null": result["canaries_null"],
        "canaries": dg.MetadataValue.md(_canary_table(result["canaries"])),
        "scores": dg.MetadataValue.md(warning + _score_table(result)),
        "breakdowns": dg.MetadataValue.md(_breakdown_table(result)),
        "reliability_diagram": dg.MetadataValue.md(markdown_image(png, "reliability diagram")),
        "feature_importance": dg.MetadataValue.md(
            markdown_image(importance_png(importances), "feature importance")
            + "\n\n| feature | share of gain |\n|---|---|\n"
            + imp_md
        ),
        "reliability_png": dg.MetadataValue.path(str(directory / "reliability.png")),
    }
    wf = result.get("walk_forward")
    if wf is not None:
        metadata["walk_forward"] = dg.MetadataValue.md(_walk_forward_table(wf))
        if wf["pooled"]:
            pooled = wf["pooled"]["delta_brier_vs_best"]
            metadata["walk_forward_delta_brier_vs_best"] = round(pooled["delta"], 6)
            metadata["walk_forward_delta_brier_vs_best_ci_low"] = round(pooled["ci_low"], 6)
            metadata["walk_forward_delta_brier_vs_best_ci_high"] = round(pooled["ci_high"], 6)
    if config.fail_on_canary and not result["canaries_null"]:
        failed = [name for name, c in result["canaries"].items() if not c["null"]]
        raise dg.Failure(
            description=f"leak canaries beat the market: {failed}; see {directory / 'evaluation.json'}",
            metadata=metadata,
        )
    return dg.MaterializeResult(metadata=metadata)


class PredictionsConfig(dg.Config):
    lookback_h: float = 2.0
    """Markets without a snapshot in this many hours get no prediction."""
    whale_usd: float = WHALE_USD


@dg.asset(
    group_name=ML_GROUP,
    kinds={"xgboost", "parquet"},
    deps=["xgb_model", "features"],
    # A new model is applied at once; between models, `predictions_schedule` refreshes them hourly.
    automation_condition=dg.AutomationCondition.eager(),
    tags={"domain": "ml"},
)
def predictions(config: PredictionsConfig, lake: LakeResource, clock: ClockResource) -> dg.MaterializeResult:
    """The latest model's probability for every open market, from features built as of now, with the model
    version and the edge over the current executable price (ask to buy YES, 1 − bid to buy NO) after fees."""
    model = model_lib.load(lake.data_dir)
    now = clock.clock().now()
    table = pipeline.predict_open_markets(lake.data_dir, model, now, config.lookback_h, config.whale_usd)
    edges = [e for e in table.column("best_edge").to_pylist() if e is not None]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": table.num_rows,
            "model_version": model.version,
            "predicted_at": now.isoformat(),
            "markets_with_positive_edge": sum(1 for e in edges if e > 0),
            "max_edge": round(max(edges), 4) if edges else None,
        }
    )


class BacktestRunConfig(dg.Config):
    edge_threshold: float = 0.03
    latency_s: float = 30.0
    max_wait_s: float = 3600.0
    stake_usd: float = 100.0
    depth_share: float = 0.1


@dg.asset(
    group_name=ML_GROUP,
    kinds={"python", "parquet"},
    deps=["xgb_model", "training_set", "features"],
    # Re-run for every new model, not for every new day of features.
    automation_condition=dg.AutomationCondition.eager().ignore(dg.AssetSelection.assets("features")),
    tags={"domain": "ml"},
)
def backtest(config: BacktestRunConfig, lake: LakeResource) -> dg.MaterializeResult:
    """Trades the latest model on the test split's markets: enters when the edge over the executable price
    exceeds the threshold after fees, after a latency, walking the recorded book level by level, never after
    close; held to resolution. Per-bet return on capital at risk with a cluster-bootstrap CI, PnL on the peak
    capital at risk with the positions open at once, and no annualised figure over a short elapsed time."""
    model = model_lib.load(lake.data_dir)
    table = pipeline.read_training_set(lake.data_dir)
    bt = BacktestConfig(**config.model_dump())
    bets, summary = pipeline.backtest_and_save(lake.data_dir, model, table, bt)
    sharpe = summary["sharpe"]
    loud = sharpe is not None and sharpe > SHARPE_WARNING
    note = (
        f"# ⚠️ Sharpe {sharpe:.2f} > {SHARPE_WARNING:g}: treat as leakage until proven otherwise\n\n"
        "Check the features of the traded rows for data observed after their instant, and the split for "
        "markets shared with training."
        if loud
        else f"Sharpe {'within the plausible range' if sharpe is not None else 'not computed'} "
        f"({summary['annualised_basis']})."
    )
    model_lib.update_meta(lake.data_dir, model.version, {"backtest": summary})

    def rounded(value, digits=4):
        return round(value, digits) if value is not None else None

    ci = summary["return_per_bet_ci"]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": bets.num_rows,
            "model_version": model.version,
            "bets": summary["bets"],
            "bet_clusters": summary["clusters"],
            "pnl_usd": round(summary["pnl_usd"], 2),
            "hit_rate": summary["hit_rate"],
            "return_per_bet_mean": rounded(summary["return_per_bet_mean"]),
            "return_per_bet_std": rounded(summary["return_per_bet_std"]),
            "return_per_bet_ci_low": rounded(ci[0]) if ci else None,
            "return_per_bet_ci_high": rounded(ci[1]) if ci else None,
            "sharpe_per_bet": rounded(summary["sharpe_per_bet"]),
            "return_on_capital": rounded(summary["return_on_capital"]),
            "peak_capital_usd": round(summary["peak_capital_usd"], 2),
            "return_on_peak_capital": rounded(summary["return_on_peak_capital"]),
            "max_concurrent_positions": summary["max_concurrent"],
            "elapsed_days": round(summary["elapsed_days"], 3),
            "annualised_return_on_peak_capital": rounded(summary["annualised_return_on_peak_capital"]),
            "sharpe": sharpe,
            "annualised_basis": summary["annualised_basis"],
            "max_drawdown_usd": round(summary["max_drawdown_usd"], 2),
            "fees_usd": round(summary["fees_usd"], 2),
            "markets": summary["markets"],
            "markets_without_fee_schedule": summary["markets_without_fee_schedule"],
            "sharpe_warning": loud,
            "warning": dg.MetadataValue.md(note),
            "config": dg.MetadataValue.json(bt.as_dict()),
        }
    )
