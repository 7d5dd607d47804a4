"""The backtest's execution rules (executable side, latency, book walking, fees, close, settlement) on
hand-computed books, and its summary figures (per-bet returns, capital at risk, concurrency, elapsed time)."""

from datetime import timedelta

import numpy as np
import pyarrow as pa
import pytest

from polymarket_assets.lib.fees import FeeSchedule, fee_per_share
from polymarket_assets.lib.ml.backtest import (
    BET_SCHEMA,
    BacktestConfig,
    Quote,
    band_levels,
    run_backtest,
    summarize,
)
from polymarket_assets_tests.ml.lakefixtures import T0

S = timedelta(seconds=1)
DAY = timedelta(days=1)
CONFIG = BacktestConfig(edge_threshold=0.03, latency_s=30, max_wait_s=600, stake_usd=100, depth_share=0.5)
POLITICS = FeeSchedule(rate=0.04, exponent=1, taker_only=True, rebate_rate=0.25)
FEES = {"a": [(T0 - DAY, POLITICS)]}


def q(ts, bid, ask, bid_size=10_000.0, ask_size=10_000.0, tradable=True, bids=None, asks=None):
    bids = bids if bids is not None else (((bid, bid_size),) if bid is not None and bid_size else None)
    asks = asks if asks is not None else (((ask, ask_size),) if ask is not None and ask_size else None)
    return Quote(ts, bid, ask, bids, asks, tradable)


def test_buys_yes_walking_the_ask_book_after_the_latency_and_settles_at_resolution():
    book = ((0.52, 100.0), (0.53, 200.0), (0.60, 1000.0))
    quotes = {"a": [q(T0, 0.48, 0.50), q(T0 + 20 * S, 0.49, 0.51), q(T0 + 40 * S, 0.50, 0.52, asks=book)]}
    bets = run_backtest(
        {"a": [(T0, 0.62)]}, quotes, {"a": (1, T0 + DAY)}, CONFIG, fee_schedules=FEES
    ).to_pylist()
    assert len(bets) == 1
    bet = bets[0]
    assert bet["side"] == "YES" and bet["entry_ts"] == T0 + 40 * S  # the first snapshot at or after t + 30 s
    # half of each level: 50 @ 0.52 ($26), 100 @ 0.53 ($53), then $21 of the 0.60 level (35 shares)
    assert bet["levels_walked"] == 3 and bet["shares"] == pytest.approx(185.0)
    assert bet["cost_usd"] == pytest.approx(100.0) and bet["entry_price"] == pytest.approx(100 / 185)
    # each level is one taker fill under the market's schedule: size × 0.04 × p × (1 − p)
    fee = 0.4992 + 0.9964 + 0.336
    assert bet["fee_usd"] == pytest.approx(fee) and bet["capital_usd"] == pytest.approx(100 + fee)
    assert bet["pnl_usd"] == pytest.approx(185 - 100 - fee)
    assert bet["return_on_capital"] == pytest.approx((185 - 100 - fee) / (100 + fee))
    assert bet["decision_price"] == 0.50


def test_each_level_filled_pays_its_own_rounded_fee():
    # 1.5015 @ 0.50 costs 0.015015 → 0.01502 and 3 @ 0.51 costs 0.029988 → 0.02999: 0.04501 in all, where one
    # fill of the whole would round 0.045003 to 0.045
    book = ((0.50, 3.003), (0.51, 6.0))
    quotes = {"a": [q(T0, 0.48, 0.50, asks=book), q(T0 + 30 * S, 0.48, 0.50, asks=book)]}
    bet = run_backtest(
        {"a": [(T0, 0.70)]}, quotes, {"a": (1, T0 + DAY)}, CONFIG, fee_schedules=FEES
    ).to_pylist()[0]
    assert bet["shares"] == pytest.approx(4.5015) and bet["levels_walked"] == 2
    assert bet["fee_usd"] == pytest.approx(0.01502 + 0.02999, abs=1e-12)


def test_the_walk_stops_at_the_first_level_without_edge_after_its_fee():
    # at 0.595 a share costs 0.595 + 0.04 × 0.595 × 0.405 > 0.60: only half of the 0.50 level is bought
    book = ((0.50, 10.0), (0.595, 1000.0))
    quotes = {"a": [q(T0, 0.48, 0.50, asks=book), q(T0 + 30 * S, 0.48, 0.50, asks=book)]}
    bets = run_backtest(
        {"a": [(T0, 0.60)]}, quotes, {"a": (0, T0 + DAY)}, CONFIG, fee_schedules=FEES
    ).to_pylist()
    assert bets[0]["shares"] == pytest.approx(5.0) and bets[0]["levels_walked"] == 1
    assert bets[0]["pnl_usd"] == pytest.approx(-5 * 0.50 - 5 * 0.04 * 0.5 * 0.5)


def test_selling_yes_is_buying_no_walking_the_bids_and_loses_when_yes_wins():
    bids = ((0.70, 100.0), (0.69, 100.0))
    quotes = {"a": [q(T0, 0.70, 0.72, bids=bids), q(T0 + 30 * S, 0.70, 0.72, bids=bids)]}
    outcomes = {"a": (1, T0 + 5 * 3600 * S)}
    bets = run_backtest({"a": [(T0, 0.55)]}, quotes, outcomes, CONFIG, fee_schedules=FEES).to_pylist()
    assert len(bets) == 1 and bets[0]["side"] == "NO"
    assert bets[0]["shares"] == pytest.approx(100.0) and bets[0]["cost_usd"] == pytest.approx(
        50 * 0.30 + 50 * 0.31
    )
    assert bets[0]["fee_usd"] == pytest.approx(50 * 0.04 * 0.30 * 0.70 + 50 * 0.04 * 0.31 * 0.69)
    assert bets[0]["pnl_usd"] == pytest.approx(-bets[0]["capital_usd"])


def test_depth_bands_become_a_conservative_book():
    assert band_levels(0.52, 0.51, 80.0, 250.0, "ask") == ((0.52, 80.0), (0.56, 170.0))
    assert band_levels(0.50, 0.51, 100.0, 300.0, "bid") == ((0.50, 100.0), (0.46, 200.0))
    assert (
        band_levels(None, 0.51, 100.0, 300.0, "bid") is None
        and band_levels(0.5, 0.51, None, 1.0, "ask") is None
    )


def test_no_bet_below_the_threshold_after_fees():
    # edge before fees 0.035, fee per share 0.04 * 0.5 * 0.5 = 0.01: 0.025 is under 0.03
    quotes = {"a": [q(T0, 0.45, 0.50), q(T0 + 30 * S, 0.45, 0.50)]}
    assert (
        run_backtest({"a": [(T0, 0.535)]}, quotes, {"a": (1, T0 + DAY)}, CONFIG, fee_schedules=FEES).num_rows
        == 0
    )
    assert fee_per_share(0.5, POLITICS) == pytest.approx(0.01)
    # The same edge on a fee-free (geopolitics) market clears the threshold.
    free = {"a": [(T0 - DAY, FeeSchedule(rate=0.0))]}
    bets = run_backtest(
        {"a": [(T0, 0.535)]}, quotes, {"a": (1, T0 + DAY)}, CONFIG, fee_schedules=free
    ).to_pylist()
    assert len(bets) == 1 and bets[0]["fee_usd"] == 0.0


def test_the_fee_is_the_schedule_in_force_at_the_fill():
    quotes = {"a": [q(T0, 0.48, 0.50), q(T0 + 40 * S, 0.50, 0.52)]}
    # fees were off when the decision was taken and switched on (crypto, 0.07) before the fill
    history = {"a": [(T0 - DAY, None), (T0 + 35 * S, FeeSchedule(rate=0.07))]}
    bet = run_backtest(
        {"a": [(T0, 0.70)]}, quotes, {"a": (1, T0 + DAY)}, CONFIG, fee_schedules=history
    ).to_pylist()[0]
    # one level: 192.30769 shares × 0.07 × 0.52 × 0.48 = 3.3599999… → 3.36 (5 decimals)
    assert bet["shares"] == pytest.approx(100 / 0.52) and bet["fee_usd"] == 3.36
    assert bet["pnl_usd"] == pytest.approx(bet["shares"] * (1 - 0.52) - 3.36)


def test_no_fill_when_the_price_moved_away_during_the_latency():
    quotes = {"a": [q(T0, 0.48, 0.50), q(T0 + 31 * S, 0.60, 0.62)]}
    assert run_backtest({"a": [(T0, 0.60)]}, quotes, {"a": (1, T0 + DAY)}, CONFIG).num_rows == 0


def test_unknown_depth_is_never_traded():
    quotes = {"b": [q(T0, 0.40, 0.42, None, None), q(T0 + 30 * S, 0.40, 0.42, None, None)]}
    assert run_backtest({"b": [(T0, 0.6)]}, quotes, {"b": (0, T0 + DAY)}, CONFIG).num_rows == 0


def test_no_entry_at_or_after_close_or_on_a_snapshot_of_a_closed_market():
    quotes = {c: [q(T0, 0.40, 0.42), q(T0 + 30 * S, 0.40, 0.42)] for c in "abc"}
    quotes["c"][1] = q(T0 + 30 * S, 0.40, 0.42, tradable=False)  # past its end date as then known
    outcomes = {c: (1, T0 + DAY) for c in "abc"}
    closes = {"a": T0 + 20 * S, "b": T0 + 31 * S}  # a closed (closedTime) before the order reached the book
    bets = run_backtest({c: [(T0, 0.7)] for c in "abc"}, quotes, outcomes, CONFIG, closes=closes)
    assert bets.column("condition_id").to_pylist() == ["b"]


def test_one_position_per_market_and_none_after_settlement_or_without_a_label():
    quotes = {
        "a": [q(T0 + i * 60 * S, 0.40, 0.42) for i in range(10)],
        "b": [q(T0, 0.4, 0.42), q(T0 + 60 * S, 0.4, 0.42)],
    }
    decisions = {"a": [(T0 + i * 60 * S, 0.7) for i in range(10)], "b": [(T0, 0.7)], "c": [(T0, 0.9)]}
    bets = run_backtest(decisions, quotes, {"a": (1, T0 + DAY), "b": (1, T0 + 30 * S)}, CONFIG)
    assert bets.column("condition_id").to_pylist() == ["a"]


def _bets(rows: list[tuple]) -> pa.Table:
    """Bets from (cluster, entry, settle, capital, pnl)."""
    out = []
    for i, (cluster, entry, settle, capital, pnl) in enumerate(rows):
        out.append(
            {
                "condition_id": f"m{i}",
                "cluster": cluster,
                "decision_ts": entry,
                "entry_ts": entry,
                "settle_ts": settle,
                "side": "YES",
                "p_model": 0.6,
                "decision_price": 0.5,
                "entry_price": 0.5,
                "levels_walked": 1,
                "shares": capital / 0.5,
                "cost_usd": capital,
                "fee_usd": 0.0,
                "capital_usd": capital,
                "edge_at_entry": 0.1,
                "outcome": int(pnl > 0),
                "pnl_usd": pnl,
                "return_on_capital": pnl / capital,
            }
        )
    return pa.Table.from_pylist(out, schema=BET_SCHEMA)


def test_summary_per_bet_returns_capital_at_risk_and_concurrency():
    # three positions open together on day 0 (two on one event), a fourth after the first two settled
    bets = _bets(
        [
            ("e1", T0, T0 + DAY, 100.0, 100.0),
            ("e1", T0, T0 + DAY, 50.0, -50.0),
            ("e2", T0 + 3600 * S, T0 + 2 * DAY, 100.0, -100.0),
            ("e3", T0 + DAY, T0 + 3 * DAY, 200.0, 50.0),
        ]
    )
    summary = summarize(bets, replicates=500)
    r = np.array([1.0, -1.0, -1.0, 0.25])
    assert summary["bets"] == 4 and summary["clusters"] == 3 and summary["hit_rate"] == 0.5
    assert summary["return_per_bet_mean"] == pytest.approx(r.mean())
    assert summary["return_per_bet_std"] == pytest.approx(r.std(ddof=1))
    assert summary["sharpe_per_bet"] == pytest.approx(r.mean() / r.std(ddof=1))
    low, high = summary["return_per_bet_ci"]
    assert low <= r.mean() <= high
    assert summary["return_on_capital"] == pytest.approx(0.0 / 450.0)
    # day 0: 100 + 50 + 100 open; at day 1 the first two settle before the fourth enters: 100 + 200
    assert summary["peak_capital_usd"] == pytest.approx(300.0) and summary["max_concurrent"] == 3
    assert summary["elapsed_days"] == pytest.approx(3.0)
    assert summary["sharpe"] is None and summary["annualised_return_on_peak_capital"] is None
    assert "not annualised" in summary["annualised_basis"]
    assert summary["max_drawdown_usd"] == pytest.approx(150.0)  # +100 -50 -100: from 100 down to -50
    assert summarize(bets.slice(0, 0))["bets"] == 0


def test_annualised_figures_need_thirty_days_and_use_elapsed_time():
    bets = _bets([(f"e{i}", T0 + i * DAY, T0 + (i + 1) * DAY, 100.0, (10.0, -5.0)[i % 2]) for i in range(40)])
    summary = summarize(bets, replicates=200)
    assert summary["elapsed_days"] == pytest.approx(40.0) and summary["peak_capital_usd"] == pytest.approx(
        100.0
    )
    daily = np.zeros(40)
    for i in range(40):
        daily[min(39, i + 1)] += (10.0, -5.0)[i % 2] / 100.0
    assert summary["sharpe"] == pytest.approx(daily.mean() / daily.std(ddof=1) * np.sqrt(365))
    assert summary["annualised_return_on_peak_capital"] == pytest.approx(daily.sum() * 365 / 40)
