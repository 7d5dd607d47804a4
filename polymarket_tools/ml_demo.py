"""The `make demo` hand-over: resolved history, then features → training_set → xgb_model → model_evaluation →
backtest → predictions, all as real Dagster runs.

Call it before the demo's live hour, with the simulator started `DEMO_HISTORY` earlier:

    from polymarket_tools.ml_demo import DEMO_HISTORY, run_ml_demo

    sim_start = hour0 - DEMO_HISTORY - timedelta(minutes=2)          # instead of hour0 - 2 min
    with run_sim(..., speed=0.0, start=sim_start.isoformat()) as sim:
        ...                                                         # env, defs, instance, Driver as today
        figures = run_ml_demo(driver.pool, sim, data_dir, until=hour0 - timedelta(minutes=10),
                              run_config_overrides=overrides, log=log)
        ...                                                         # then the live hour, unchanged
        driver.pool.submit("predictions_job").result()              # optional: predictions on live data

`pool` is the demo's `LocalRunPool` (runs execute in forked workers against the instance in `DAGSTER_HOME`,
with the `PM_*` environment pointing at the simulator and `PM_CLOCK=sim`); `sim` is the paused simulator
handle; `data_dir` is `PM_DATA_DIR`. The simulator's clock is stepped from where it is (rounded up to the
hour) to `until`, never backwards, and left just after the last step. The return value holds
`resolved_markets_used, brier_model, brier_market, delta_brier_ci` (two-element list), `backtest_sharpe`,
and a few more figures (`history` has the collection's run counts and timings).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

from polymarket_assets.lib.tiers import DEFAULT_PLAN
from polymarket_tools.history import HISTORY_TIERS, HistoryCollector, hour_ceil, sim_now

# Hourly rows: a horizon row may be up to an hour older than close - h.
COARSE_TOLERANCE_H = [1.05, 1.05, 1.05]
# What the demo records before its live hour: enough simulated time for a few hundred resolved markets at
# 400 markets, at a cadence that keeps it to about two minutes of wall time.
DEMO_HISTORY = timedelta(hours=40)
DEMO_STEP = timedelta(hours=2)
# Trades are backfilled for markets within 48 h of close (the recorder's near tiers): the rest would triple
# the demo's history time and only feed the 7-day whale window of markets no horizon row is taken from.
DEMO_TRADE_TIERS = DEFAULT_PLAN.names_within(48.0)


def coarse_run_config(step: timedelta, hours: float, **kwargs) -> dict:
    """`ml_run_config` for history recorded every `step`: horizon tolerance one step, and the gate told which
    momentum features that cadence (or that short a history) cannot produce."""
    step_h = step.total_seconds() / 3600
    # With the purged split, the rows kept are those whose labels resolve inside the history: a momentum
    # over `lag` hours shows on them only when the history is about twice as long as the lag.
    unsupported = [
        name
        for name, lag in (("momentum_1h", 1), ("momentum_6h", 6), ("momentum_24h", 24))
        if step_h > lag or hours < 2 * lag
    ]
    extra = {"ops": {"training_set_training_set_ready": {"config": {"allow_all_null": unsupported}}}}
    return ml_run_config(tolerance_h=[step_h + 0.05] * 3, extra=extra, **kwargs)


def ml_run_config(
    horizons_h=(24.0, 4.0, 1.0),
    tolerance_h=None,
    min_rows: int = 100,
    min_markets_per_split: int = 10,
    replicates: int = 2000,
    extra: dict | None = None,
    embargo_h: float | None = None,
) -> dict:
    from polymarket_tools.local_runner import merge_config

    training = {"horizons_h": list(horizons_h), "tolerance_h": list(tolerance_h or COARSE_TOLERANCE_H)}
    if embargo_h is not None:
        training["embargo_h"] = embargo_h
    config = {
        "ops": {
            "training_set": {"config": training},
            "training_set_training_set_ready": {
                "config": {"min_rows": min_rows, "min_markets_per_split": min_markets_per_split}
            },
            "model_evaluation": {"config": {"bootstrap_replicates": replicates}},
        }
    }
    return merge_config(config, extra or {})


def run_ml_pipeline(
    pool, data_dir, days: list[date], run_config: dict | None = None, log: Callable[[str], None] | None = None
) -> dict:
    """Build every given day of features, then run `ml_training_job`; return the figures of the new model."""
    from polymarket_assets.defs.ml.partitions import daily_partitions

    log = log or (lambda message: None)
    futures = [
        pool.submit(
            "features_job",
            daily_partitions.get_partition_key_for_timestamp(
                datetime(d.year, d.month, d.day, 12).timestamp()
            ),
        )
        for d in sorted(set(days))
    ]
    failed = [o for o in (f.result() for f in futures) if not o.success]
    if failed:
        raise RuntimeError(f"features runs failed: {[(o.partition_key, o.error) for o in failed]}")
    log(f"features built for {len(futures)} days; training")
    outcome = pool.submit("ml_training_job", None, run_config or ml_run_config()).result()
    if not outcome.success:
        raise RuntimeError(f"ml_training_job failed: {outcome.error} (checks: {outcome.checks})")
    return model_figures(data_dir) | {"checks": outcome.checks}


def model_figures(data_dir) -> dict:
    from polymarket_assets.lib.ml.model import latest_version, models_dir

    version = latest_version(data_dir)
    directory = models_dir(data_dir) / version
    meta = json.loads((directory / "meta.json").read_text())
    evaluation = json.loads((directory / "evaluation.json").read_text())
    overall = evaluation["overall"]
    delta = overall["delta_brier_vs_market"]
    backtest = meta.get("backtest", {})
    return {
        "model_version": version,
        "resolved_markets_used": meta["resolved_markets"],
        "test_markets": overall["markets"],
        "brier_model": overall["model"]["brier"],
        "brier_market": overall["market"]["brier"],
        "brier_market_isotonic": overall["isotonic"]["brier"],
        "delta_brier": delta["delta"],
        "delta_brier_ci": [delta["ci_low"], delta["ci_high"]],
        "best_baseline": evaluation["best_baseline"],
        "delta_brier_vs_best_ci": [evaluation["vs_best"]["ci_low"], evaluation["vs_best"]["ci_high"]],
        "verdict": evaluation["verdict"],
        "canaries_null": evaluation.get("canaries_null"),
        "backtest_sharpe": backtest.get("sharpe"),
        "backtest_return_per_bet_ci": backtest.get("return_per_bet_ci"),
        "backtest_sharpe_per_bet": backtest.get("sharpe_per_bet"),
        "backtest_bets": backtest.get("bets"),
        "backtest_pnl_usd": backtest.get("pnl_usd"),
    }


def run_ml_demo(
    pool,
    sim,
    data_dir,
    until: datetime,
    *,
    step: timedelta = DEMO_STEP,
    tiers=HISTORY_TIERS,
    trade_tiers: tuple[str, ...] | None = DEMO_TRADE_TIERS,
    run_config_overrides: dict | None = None,
    log: Callable[[str], None] | None = None,
) -> dict:
    """Record history from the simulator's current time up to `until` every `step`, then train and score.

    Returns {"resolved_markets_used", "brier_model", "brier_market", "delta_brier_ci": [low, high],
    "backtest_sharpe", ...}; raises if a run of the ML pipeline fails (collection runs that fail are counted
    in "history"). `run_config_overrides` is merged into every collection run (the demo's API timeouts).
    """
    log = log or (lambda message: None)
    start = hour_ceil(sim_now(sim))
    if until - start < timedelta(hours=12):
        raise ValueError(
            f"only {until - start} of history before {until.isoformat()}: start the simulator earlier"
        )
    collector = HistoryCollector(
        pool,
        sim,
        data_dir,
        tiers=tiers,
        trade_tiers=trade_tiers,
        run_config_overrides=run_config_overrides,
        log=log,
    )
    stats = collector.collect(start, until, step)
    log(
        f"history: {stats.steps} steps, {stats.runs} runs ({len(stats.failed_runs)} failed), "
        f"{stats.trades_backfilled} trades in {stats.wall_s:.0f} s"
    )
    days = []
    day = start.date()
    while day <= sim_now(sim).date():
        days.append(day)
        day += timedelta(days=1)
    hours = (until - start).total_seconds() / 3600
    figures = run_ml_pipeline(pool, data_dir, days, coarse_run_config(step, hours), log=log)
    figures["history"] = stats.as_dict()
    figures["models_dir"] = str(Path(data_dir) / "models")
    return figures
