"""The backtest's execution rules (executable side, latency, depth, fees, settlement) and its summary."""

from datetime import timedelta

import pytest

from polymarket_assets.lib.fees import FeeSchedule, fee_per_share
from polymarket_assets.lib.ml.backtest import BacktestConfig, Quote, run_backtest, summarize
from polymarket_assets_tests.ml.lakefixtures import T0

S = timedelta(seconds=1)
CONFIG = BacktestConfig(edge_threshold=0.03, latency_s=30, max_wait_s=600, stake_usd=100, depth_share=0.1)
POLITICS = FeeSchedule(rate=0.04, exponent=1, taker_only=True, rebate_rate=0.25)
FEES = {"a": [(T0 - timedelta(days=1), POLITICS)]}


def q(ts, bid, ask, bid_depth=10_000.0, ask_depth=10_000.0):
    return Quote(ts, bid, ask, bid_depth, ask_depth)


def test_buys_yes_at_the_ask_seen_after_the_latency_and_settles_at_resolution():
    quotes = {"a": [q(T0, 0.48, 0.50), q(T0 + 20 * S, 0.49, 0.51), q(T0 + 40 * S, 0.50, 0.52)]}
    bets = run_backtest({"a": [(T0, 0.60)]}, quotes, {"a": (1, T0 + timedelta(days=1))}, CONFIG, FEES).to_pylist()
    assert len(bets) == 1
    bet = bets[0]
    assert bet["side"] == "YES" and bet["entry_ts"] == T0 + 40 * S  # the first snapshot at or after t + 30 s
    assert bet["entry_price"] == 0.52 and bet["decision_price"] == 0.50
    assert bet["shares"] == pytest.approx(100 / 0.52)
    # Polymarket's taker fee: 192.3077 shares × 0.04 × 0.52 × 0.48 = 1.919999… → 1.92 (5 decimals)
    fee = 1.92
    assert bet["fee_usd"] == fee
    assert bet["pnl_usd"] == pytest.approx(bet["shares"] * (1 - 0.52) - fee)


def test_selling_yes_is_buying_no_at_one_minus_the_bid_and_loses_when_yes_wins():
    quotes = {"a": [q(T0, 0.70, 0.72), q(T0 + 30 * S, 0.70, 0.72)]}
    bets = run_backtest({"a": [(T0, 0.55)]}, quotes, {"a": (1, T0 + timedelta(hours=5))}, CONFIG, FEES).to_pylist()
    assert len(bets) == 1 and bets[0]["side"] == "NO"
    assert bets[0]["entry_price"] == pytest.approx(0.30)
    assert bets[0]["pnl_usd"] == pytest.approx(-bets[0]["cost_usd"] - bets[0]["fee_usd"])


def test_no_bet_below_the_threshold_after_fees():
    # edge before fees 0.035, fee per share 0.04 * 0.5 * 0.5 = 0.01: 0.025 is under 0.03
    quotes = {"a": [q(T0, 0.45, 0.50), q(T0 + 30 * S, 0.45, 0.50)]}
    assert (
        run_backtest({"a": [(T0, 0.535)]}, quotes, {"a": (1, T0 + timedelta(days=1))}, CONFIG, FEES).num_rows == 0
    )
    assert fee_per_share(0.5, POLITICS) == pytest.approx(0.01)
    # The same edge on a fee-free (geopolitics) market clears the threshold.
    free = {"a": [(T0 - timedelta(days=1), FeeSchedule(rate=0.0))]}
    bets = run_backtest({"a": [(T0, 0.535)]}, quotes, {"a": (1, T0 + timedelta(days=1))}, CONFIG, free).to_pylist()
    assert len(bets) == 1 and bets[0]["fee_usd"] == 0.0


def test_the_fee_is_the_schedule_in_force_at_the_fill():
    quotes = {"a": [q(T0, 0.48, 0.50), q(T0 + 40 * S, 0.50, 0.52)]}
    # fees were off when the decision was taken and switched on (crypto, 0.07) before the fill
    history = {"a": [(T0 - timedelta(days=1), None), (T0 + 35 * S, FeeSchedule(rate=0.07))]}
    bet = run_backtest({"a": [(T0, 0.70)]}, quotes, {"a": (1, T0 + timedelta(days=1))}, CONFIG, history).to_pylist()[0]
    # 192.30769 shares × 0.07 × 0.52 × 0.48 = 3.3599999… → 3.36
    assert bet["fee_usd"] == 3.36
    assert bet["pnl_usd"] == pytest.approx(bet["shares"] * (1 - 0.52) - 3.36)


def test_no_fill_when_the_price_moved_away_during_the_latency():
    quotes = {"a": [q(T0, 0.48, 0.50), q(T0 + 31 * S, 0.60, 0.62)]}
    assert run_backtest({"a": [(T0, 0.60)]}, quotes, {"a": (1, T0 + timedelta(days=1))}, CONFIG).num_rows == 0


def test_size_is_limited_by_visible_depth_and_unknown_depth_is_never_traded():
    quotes = {
        "a": [q(T0, 0.40, 0.42), q(T0 + 30 * S, 0.40, 0.42, ask_depth=50.0)],
        "b": [q(T0, 0.40, 0.42, None, None), q(T0 + 30 * S, 0.40, 0.42, None, None)],
    }
    bets = run_backtest(
        {"a": [(T0, 0.6)], "b": [(T0, 0.6)]},
        quotes,
        {"a": (0, T0 + timedelta(days=1)), "b": (0, T0 + timedelta(days=1))},
        CONFIG,
    ).to_pylist()
    assert [b["condition_id"] for b in bets] == ["a"]
    assert bets[0]["shares"] == pytest.approx(5.0)  # 10 % of 50 shares, under the $100 stake


def test_one_position_per_market_and_none_after_settlement_or_without_a_label():
    quotes = {
        "a": [q(T0 + i * 60 * S, 0.40, 0.42) for i in range(10)],
        "b": [q(T0, 0.4, 0.42), q(T0 + 60 * S, 0.4, 0.42)],
    }
    decisions = {"a": [(T0 + i * 60 * S, 0.7) for i in range(10)], "b": [(T0, 0.7)], "c": [(T0, 0.9)]}
    bets = run_backtest(decisions, quotes, {"a": (1, T0 + timedelta(days=1)), "b": (1, T0 + 30 * S)}, CONFIG)
    assert bets.column("condition_id").to_pylist() == ["a"]


def test_summary_pnl_hit_rate_sharpe_and_drawdown():
    quotes = {c: [q(T0, 0.48, 0.50), q(T0 + 30 * S, 0.48, 0.50)] for c in "abcd"}
    outcomes = {
        "a": (1, T0 + timedelta(days=1)),
        "b": (0, T0 + timedelta(days=2)),
        "c": (0, T0 + timedelta(days=3)),
        "d": (1, T0 + timedelta(days=4)),
    }
    bets = run_backtest({c: [(T0, 0.7)] for c in "abcd"}, quotes, outcomes, CONFIG)
    summary = summarize(bets)
    pnl = bets.column("pnl_usd").to_pylist()
    assert summary["bets"] == 4 and summary["hit_rate"] == 0.5
    assert summary["pnl_usd"] == pytest.approx(sum(pnl))
    win, loss = pnl[0], pnl[1]
    assert summary["max_drawdown_usd"] == pytest.approx(-2 * loss)  # after +win, two losses in a row
    assert summary["days"] == 5  # entries on day 0, settlements on days 1-4
    import numpy as np

    daily = np.array([0.0, win, loss, loss, win])
    assert summary["sharpe"] == pytest.approx(daily.mean() / daily.std(ddof=1) * np.sqrt(365))
    assert summary["sharpe_basis"] == "daily"
    assert summarize(bets.slice(0, 0))["bets"] == 0


def test_a_short_backtest_uses_per_bet_returns_for_sharpe():
    quotes = {c: [q(T0, 0.48, 0.50), q(T0 + 30 * S, 0.48, 0.50)] for c in "abc"}
    outcomes = {
        "a": (1, T0 + timedelta(hours=5)),
        "b": (0, T0 + timedelta(hours=6)),
        "c": (1, T0 + timedelta(hours=7)),
    }
    bets = run_backtest({c: [(T0, 0.7)] for c in "abc"}, quotes, outcomes, CONFIG)
    summary = summarize(bets)
    assert summary["days"] == 1 and summary["sharpe_basis"] == "per_bet"
    import numpy as np

    r = np.asarray(bets.column("pnl_usd").to_pylist()) / np.asarray(bets.column("cost_usd").to_pylist())
    assert summary["sharpe"] == pytest.approx(r.mean() / r.std(ddof=1) * np.sqrt(3 * 365))
