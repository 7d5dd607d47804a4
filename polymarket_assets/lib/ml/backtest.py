"""A realistic backtest of the model's edge over executable prices.

At each decision instant t (a feature row of an out-of-sample market, before its close) the model gives p.
The edges, after fees, are

    buy YES:  p - ask - fee(ask)                (pay the ask)
    buy NO:   (1 - p) - (1 - bid) - fee(1 - bid) (selling YES = buying NO at 1 - bid)

If the better one exceeds `edge_threshold`, an order is sent; it reaches the book `latency_s` later and
executes against the first snapshot at or after t + latency (within `max_wait_s`), at that snapshot's ask
(or 1 - bid), and only if the edge at that price is still positive. Its size is at most `stake_usd` and at
most `depth_share` of the visible depth on the side it takes (the best five levels); a snapshot with no
recorded depth (the prices-only tiers) is never traded. Fees are Polymarket's taker fee under the market's own
schedule as of the fill (`polymarket_assets.lib.fees`: `size × rate × (p(1 − p))^exponent`, rounded to 5
decimals; 0 where fees are off or no schedule was observed). One position per market; it settles at resolution
(1 per share if it won, 0 otherwise).

Sharpe is the annualised ratio of daily PnL (by settlement day, zero on days without settlements) over the
backtest's span, or of per-bet returns when the span is shorter than five days. A Sharpe above 2 on this
kind of strategy is a sign of leakage until proven otherwise.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa

from polymarket_assets.lib.fees import FeeSchedule, fee_per_share, schedule_at, taker_fee


@dataclass(frozen=True)
class BacktestConfig:
    edge_threshold: float = 0.03
    latency_s: float = 30.0
    max_wait_s: float = 3600.0
    stake_usd: float = 100.0
    depth_share: float = 0.1
    min_shares: float = 1.0

    def as_dict(self) -> dict:
        return asdict(self)


BET_SCHEMA = pa.schema(
    [
        ("condition_id", pa.string()),
        ("decision_ts", pa.timestamp("us", tz="UTC")),
        ("entry_ts", pa.timestamp("us", tz="UTC")),
        ("settle_ts", pa.timestamp("us", tz="UTC")),
        ("side", pa.string()),
        ("p_model", pa.float64()),
        ("decision_price", pa.float64()),
        ("entry_price", pa.float64()),
        ("shares", pa.float64()),
        ("cost_usd", pa.float64()),
        ("fee_usd", pa.float64()),
        ("edge_at_entry", pa.float64()),
        ("outcome", pa.int64()),
        ("pnl_usd", pa.float64()),
    ]
)


@dataclass
class Quote:
    ts: datetime
    bid: float | None
    ask: float | None
    bid_depth: float | None
    ask_depth: float | None


def _edges(p: float, quote: Quote, schedule: FeeSchedule | None) -> tuple[float | None, float | None]:
    buy_yes = p - quote.ask - fee_per_share(quote.ask, schedule) if quote.ask is not None else None
    buy_no = None
    if quote.bid is not None:
        no_price = 1.0 - quote.bid
        buy_no = (1.0 - p) - no_price - fee_per_share(no_price, schedule)
    return buy_yes, buy_no


def run_backtest(
    decisions: dict[str, list[tuple[datetime, float]]],
    quotes: dict[str, list[Quote]],
    outcomes: dict[str, tuple[int, datetime]],
    config: BacktestConfig,
    fee_schedules: dict[str, list[tuple[datetime, FeeSchedule | None]]] | None = None,
) -> pa.Table:
    """Bets (one row each) for markets with a label. `decisions`: per market, (instant, p) in time order;
    `quotes`: per market, every snapshot in time order; `outcomes`: label (1 YES / 0 NO) and settlement time;
    `fee_schedules`: per market, its observed fee schedules in time order (`market_states`)."""
    fee_schedules = fee_schedules or {}
    rows = []
    latency = timedelta(seconds=config.latency_s)
    max_wait = timedelta(seconds=config.max_wait_s)
    for cid, market_decisions in decisions.items():
        if cid not in outcomes:
            continue
        label, settle_ts = outcomes[cid]
        book = quotes.get(cid, [])
        times = [q.ts for q in book]
        history = fee_schedules.get(cid, [])
        for ts, p in market_decisions:
            current = _quote_at_or_before(book, times, ts)
            if current is None:
                continue
            yes_edge, no_edge = _edges(p, current, schedule_at(history, ts))
            side = _better(yes_edge, no_edge, config.edge_threshold)
            if side is None:
                continue
            entry = _quote_at_or_after(book, times, ts + latency)
            if entry is None or entry.ts - (ts + latency) > max_wait or entry.ts >= settle_ts:
                continue
            schedule = schedule_at(history, entry.ts)
            yes_edge_e, no_edge_e = _edges(p, entry, schedule)
            if side == "YES":
                price, depth, edge = entry.ask, entry.ask_depth, yes_edge_e
            else:
                price = 1.0 - entry.bid if entry.bid is not None else None
                depth, edge = entry.bid_depth, no_edge_e
            if price is None or edge is None or edge <= 0 or not depth or depth <= 0 or price <= 0:
                continue
            shares = min(config.stake_usd / price, config.depth_share * depth)
            if shares < config.min_shares:
                continue
            fee = taker_fee(shares, price, schedule)
            won = (label == 1) if side == "YES" else (label == 0)
            pnl = shares * (1.0 if won else 0.0) - shares * price - fee
            rows.append(
                {
                    "condition_id": cid,
                    "decision_ts": ts,
                    "entry_ts": entry.ts,
                    "settle_ts": settle_ts,
                    "side": side,
                    "p_model": p,
                    "decision_price": current.ask if side == "YES" else 1.0 - current.bid,
                    "entry_price": price,
                    "shares": shares,
                    "cost_usd": shares * price,
                    "fee_usd": fee,
                    "edge_at_entry": edge,
                    "outcome": label,
                    "pnl_usd": pnl,
                }
            )
            break  # one position per market, held to resolution
    return pa.Table.from_pylist(rows, schema=BET_SCHEMA)


def _better(yes_edge, no_edge, threshold) -> str | None:
    best_side, best = None, threshold
    if yes_edge is not None and yes_edge > best:
        best_side, best = "YES", yes_edge
    if no_edge is not None and no_edge > best:
        best_side = "NO"
    return best_side


def _quote_at_or_before(book: list[Quote], times: list[datetime], ts: datetime) -> Quote | None:
    import bisect

    i = bisect.bisect_right(times, ts) - 1
    return book[i] if i >= 0 else None


def _quote_at_or_after(book: list[Quote], times: list[datetime], ts: datetime) -> Quote | None:
    import bisect

    i = bisect.bisect_left(times, ts)
    return book[i] if i < len(book) else None


MIN_DAYS_DAILY_SHARPE = 5


def summarize(bets: pa.Table) -> dict:
    """PnL, hit rate, return on cost, Sharpe (annualised), max drawdown and the number of bets.

    Sharpe is computed on daily PnL when the bets span at least `MIN_DAYS_DAILY_SHARPE` days, else on per-bet
    returns at the observed bet rate (`sharpe_basis` says which); a test split of a short history is short.
    """
    n = bets.num_rows
    if n == 0:
        return {
            "bets": 0,
            "pnl_usd": 0.0,
            "hit_rate": None,
            "return_on_cost": None,
            "sharpe": None,
            "sharpe_basis": None,
            "max_drawdown_usd": 0.0,
            "cost_usd": 0.0,
            "fees_usd": 0.0,
            "days": 0,
        }
    pnl = np.asarray(bets.column("pnl_usd").to_pylist(), dtype=float)
    cost = float(np.sum(bets.column("cost_usd").to_pylist()))
    settle = bets.column("settle_ts").to_pylist()
    entries = bets.column("entry_ts").to_pylist()
    first_day = min(entries).date()
    last_day = max(settle).date()
    days = (last_day - first_day).days + 1
    daily = np.zeros(days)
    for value, when in zip(pnl, settle):
        daily[(when.date() - first_day).days] += value
    if days >= MIN_DAYS_DAILY_SHARPE:
        basis = "daily"
        sd = float(np.std(daily, ddof=1))
        sharpe = float(np.mean(daily) / sd * math.sqrt(365.0)) if sd > 0 else None
    else:
        # Too few days for a daily series: per-bet returns on cost, scaled to a year at the observed bet rate.
        basis = "per_bet"
        returns = pnl / np.maximum(np.asarray(bets.column("cost_usd").to_pylist(), dtype=float), 1e-12)
        sd = float(np.std(returns, ddof=1)) if n > 1 else 0.0
        bets_per_year = n / (days / 365.0)
        sharpe = float(np.mean(returns) / sd * math.sqrt(bets_per_year)) if sd > 0 else None
    order = np.argsort(np.asarray([s.timestamp() for s in settle]), kind="mergesort")
    curve = np.cumsum(pnl[order])
    drawdown = float(np.max(np.maximum.accumulate(np.concatenate([[0.0], curve]))[1:] - curve)) if n else 0.0
    return {
        "bets": int(n),
        "pnl_usd": float(pnl.sum()),
        "hit_rate": float(np.mean(pnl > 0)),
        "return_on_cost": float(pnl.sum() / cost) if cost > 0 else None,
        "sharpe": sharpe,
        "sharpe_basis": basis,
        "max_drawdown_usd": max(drawdown, 0.0),
        "cost_usd": cost,
        "fees_usd": float(np.sum(bets.column("fee_usd").to_pylist())),
        "days": int(days),
    }
