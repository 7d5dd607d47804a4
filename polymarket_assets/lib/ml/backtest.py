"""A realistic backtest of the model's edge over executable prices, and figures that mean something.

At each decision instant t (a feature row of an out-of-sample market while it is open) the model gives p.
The edges, after fees, are

    buy YES:  p - ask - fee(ask)                (pay the ask)
    buy NO:   (1 - p) - (1 - bid) - fee(1 - bid) (selling YES = buying NO at 1 - bid)

If the better one exceeds `edge_threshold`, an order is sent; it reaches the book `latency_s` later and
executes against the first snapshot at or after t + latency (within `max_wait_s`) that is still tradable:
before the market's end date known then, its closedTime and its resolution. The order walks that snapshot's
book level by level (the recorded order book when there is one, else the depth bands of the snapshot, each
band filled at its worst price), taking at most `depth_share` of each level, while the next share still has
a positive edge after its fee, up to `stake_usd` of cost. A snapshot with no recorded depth (the prices-only
tiers) is never traded. Each level taken is one taker fill, charged Polymarket's taker fee under the market's
own schedule in force at the fill (`polymarket_assets.lib.fees`: `size × rate × (p(1 − p))^exponent`,
rounded to 5 decimals; 0 where fees are off or no schedule was observed). One position per market, settled
at resolution (1 per share if it won, 0 otherwise).

The summary is per bet first: the mean and standard deviation of the return on capital at risk (cost +
fee), with a bootstrap CI that resamples clusters (events) because bets on one event are one bet. PnL is
also given on the peak capital at risk, counting the positions open at once. Nothing is annualised over
less than `MIN_ANNUALISE_DAYS` of elapsed time (first entry to last settlement): a Sharpe ratio scaled to a
year from a day of correlated, overlapping, lottery-like bets is an artefact, not a figure.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from polymarket_assets.lib.fees import FeeSchedule, fee_per_share, schedule_at, taker_fee
from polymarket_assets.lib.ml.bootstrap import paired_delta
from polymarket_assets.lib.schemas import BET_SCHEMA

if TYPE_CHECKING:
    from collections.abc import Callable


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


Levels = tuple[tuple[float, float], ...]  # (YES price, shares), best first


@dataclass
class Quote:
    ts: datetime
    bid: float | None
    ask: float | None
    bid_levels: Levels | None = None  # YES bids, highest first; None: depth not recorded
    ask_levels: Levels | None = None  # YES asks, lowest first
    tradable: bool = True  # open at this instant: before its end date as then known, not closed


def band_levels(
    best: float | None, mid: float | None, depth_1c: float | None, depth_5c: float | None, side: str
) -> Levels | None:
    """The snapshot's depth bands as a conservative book: the size within 1c of the mid at the band's worst
    price (never better than the touch), then the rest of the 5c band at its worst price."""
    if best is None or mid is None or depth_1c is None or depth_5c is None:
        return None
    sign = 1.0 if side == "ask" else -1.0
    worst = max if side == "ask" else min
    levels = [
        (worst(best, mid + sign * 0.01), float(depth_1c)),
        (worst(best, mid + sign * 0.05), float(depth_5c) - float(depth_1c)),
    ]
    return tuple((round(price, 6), size) for price, size in levels if size > 0)


def walk_book(
    levels: Levels,
    unit_edge: Callable[[float], float],
    stake_usd: float,
    depth_share: float,
    schedule: FeeSchedule | None,
    to_price: Callable[[float], float],
) -> tuple[float, float, float, int]:
    """(shares, cost, fee, levels used) buying along `levels` while a share's edge after fee is positive; each
    level taken is one taker fill, charged its own (rounded) fee under `schedule`."""
    shares = cost = fee = 0.0
    used = 0
    for yes_price, size in levels:
        price = to_price(yes_price)
        if price <= 0 or unit_edge(price) - fee_per_share(price, schedule) <= 0 or cost >= stake_usd:
            break
        take = min(size * depth_share, (stake_usd - cost) / price)
        if take <= 0:
            continue
        shares += take
        cost += take * price
        fee += taker_fee(take, price, schedule)
        used += 1
    return shares, cost, fee, used


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
    *,
    clusters: dict[str, str] | None = None,
    closes: dict[str, datetime] | None = None,
    fee_schedules: dict[str, list[tuple[datetime, FeeSchedule | None]]] | None = None,
) -> pa.Table:
    """Bets (one row each) for markets with a label. `decisions`: per market, (instant, p) in time order;
    `quotes`: per market, every snapshot in time order; `outcomes`: label (1 YES / 0 NO) and settlement time;
    `clusters`: each market's event (default: itself); `closes`: when each market stopped trading (its
    closedTime or end date), if known; `fee_schedules`: per market, its observed fee schedules in time order
    (`market_states`; none: no fee). Nothing is entered at or after the close or the settlement."""
    fee_schedules = fee_schedules or {}
    rows = []
    latency = timedelta(seconds=config.latency_s)
    max_wait = timedelta(seconds=config.max_wait_s)
    for cid, market_decisions in decisions.items():
        if cid not in outcomes:
            continue
        label, settle_ts = outcomes[cid]
        cutoff = min(settle_ts, (closes or {}).get(cid) or settle_ts)
        book = quotes.get(cid, [])
        times = [q.ts for q in book]
        history = fee_schedules.get(cid, [])
        for ts, p in market_decisions:
            current = _quote_at_or_before(book, times, ts)
            if current is None or not current.tradable or ts >= cutoff:
                continue
            yes_edge, no_edge = _edges(p, current, schedule_at(history, ts))
            side = _better(yes_edge, no_edge, config.edge_threshold)
            if side is None:
                continue
            entry = _quote_at_or_after(book, times, ts + latency)
            if (
                entry is None
                or entry.ts - (ts + latency) > max_wait
                or entry.ts >= cutoff
                or not entry.tradable
            ):
                continue
            schedule = schedule_at(history, entry.ts)
            if side == "YES":
                levels, to_price, edge_of = entry.ask_levels, (lambda x: x), (lambda price, p=p: p - price)
                decision_price = current.ask
            else:
                levels, to_price = entry.bid_levels, (lambda x: 1.0 - x)
                edge_of = lambda price, p=p: (1.0 - p) - price
                decision_price = 1.0 - current.bid
            if not levels:
                continue
            shares, cost, fee, used = walk_book(
                levels, edge_of, config.stake_usd, config.depth_share, schedule, to_price
            )
            if shares < config.min_shares:
                continue
            won = (label == 1) if side == "YES" else (label == 0)
            pnl = shares * (1.0 if won else 0.0) - cost - fee
            rows.append(
                {
                    "condition_id": cid,
                    "cluster": (clusters or {}).get(cid, cid),
                    "decision_ts": ts,
                    "entry_ts": entry.ts,
                    "settle_ts": settle_ts,
                    "side": side,
                    "p_model": p,
                    "decision_price": decision_price,
                    "entry_price": cost / shares,
                    "levels_walked": used,
                    "shares": shares,
                    "cost_usd": cost,
                    "fee_usd": fee,
                    "capital_usd": cost + fee,
                    "edge_at_entry": edge_of(cost / shares) - fee / shares,
                    "outcome": label,
                    "pnl_usd": pnl,
                    "return_on_capital": pnl / (cost + fee),
                }
            )
            break  # one position per market, held to resolution
    return pa.Table.from_pylist(rows, schema=BET_SCHEMA)


def _better(yes_edge: float | None, no_edge: float | None, threshold: float) -> str | None:
    best_side, best = None, threshold
    if yes_edge is not None and yes_edge > best:
        best_side, best = "YES", yes_edge
    if no_edge is not None and no_edge > best:
        best_side = "NO"
    return best_side


def _quote_at_or_before(book: list[Quote], times: list[datetime], ts: datetime) -> Quote | None:
    i = bisect.bisect_right(times, ts) - 1
    return book[i] if i >= 0 else None


def _quote_at_or_after(book: list[Quote], times: list[datetime], ts: datetime) -> Quote | None:
    i = bisect.bisect_left(times, ts)
    return book[i] if i < len(book) else None


MIN_ANNUALISE_DAYS = 30.0


def concurrency(bets: pa.Table) -> tuple[float, int]:
    """(peak capital at risk, most positions open at once): a position holds its capital from entry to
    settlement; at equal instants settlements free capital before entries take it."""
    events = []
    for entry, settle, capital in zip(
        bets.column("entry_ts").to_pylist(),
        bets.column("settle_ts").to_pylist(),
        bets.column("capital_usd").to_pylist(),
    ):
        events += [(entry, 1, capital), (settle, 0, -capital)]
    capital = peak = 0.0
    open_now = most = 0
    for _, kind, amount in sorted(events, key=lambda e: (e[0], e[1])):
        capital += amount
        open_now += 1 if kind else -1
        peak, most = max(peak, capital), max(most, open_now)
    return peak, most


def summarize(bets: pa.Table, replicates: int = 2000, seed: int = 0) -> dict:
    """Per-bet return on capital at risk (mean, standard deviation, cluster-bootstrap 95% CI), PnL on the
    capital and on the peak capital at risk, concurrency, elapsed time, drawdown; annualised figures only
    over at least `MIN_ANNUALISE_DAYS` of elapsed time (else None, with the reason in `annualised_basis`)."""
    n = bets.num_rows
    if n == 0:
        return {
            "bets": 0,
            "clusters": 0,
            "pnl_usd": 0.0,
            "hit_rate": None,
            "capital_usd": 0.0,
            "return_per_bet_mean": None,
            "return_per_bet_std": None,
            "return_per_bet_ci": None,
            "sharpe_per_bet": None,
            "return_on_capital": None,
            "peak_capital_usd": 0.0,
            "return_on_peak_capital": None,
            "max_concurrent": 0,
            "elapsed_days": 0.0,
            "annualised_return_on_peak_capital": None,
            "sharpe": None,
            "annualised_basis": "no bets",
            "max_drawdown_usd": 0.0,
            "cost_usd": 0.0,
            "fees_usd": 0.0,
        }
    pnl = np.asarray(bets.column("pnl_usd").to_pylist(), dtype=float)
    capital = np.asarray(bets.column("capital_usd").to_pylist(), dtype=float)
    returns = pnl / capital
    clusters = bets.column("cluster").to_pylist()
    ci = paired_delta(returns, clusters, replicates, seed).as_dict()
    std = float(np.std(returns, ddof=1)) if n > 1 else None
    settle = bets.column("settle_ts").to_pylist()
    entries = bets.column("entry_ts").to_pylist()
    elapsed_days = (max(settle) - min(entries)).total_seconds() / 86400.0
    peak, most = concurrency(bets)
    annual_return = sharpe = None
    if elapsed_days >= MIN_ANNUALISE_DAYS:
        basis = "daily PnL on peak capital over the elapsed time"
        first = min(entries)
        days = math.ceil(elapsed_days)
        daily = np.zeros(days)
        for value, when in zip(pnl, settle):
            daily[min(days - 1, int((when - first).total_seconds() // 86400))] += value / peak
        annual_return = float(daily.sum() * 365.0 / elapsed_days)
        sd = float(np.std(daily, ddof=1))
        sharpe = float(np.mean(daily) / sd * math.sqrt(365.0)) if sd > 0 else None
    else:
        basis = f"not annualised: {elapsed_days:.2f} days elapsed < {MIN_ANNUALISE_DAYS:g}"
    order = np.argsort(np.asarray([s.timestamp() for s in settle]), kind="mergesort")
    curve = np.cumsum(pnl[order])
    drawdown = float(np.max(np.maximum.accumulate(np.concatenate([[0.0], curve]))[1:] - curve))
    return {
        "bets": int(n),
        "clusters": len(set(clusters)),
        "pnl_usd": float(pnl.sum()),
        "hit_rate": float(np.mean(pnl > 0)),
        "capital_usd": float(capital.sum()),
        "return_per_bet_mean": float(returns.mean()),
        "return_per_bet_std": std,
        "return_per_bet_ci": [ci["ci_low"], ci["ci_high"]],
        "sharpe_per_bet": float(returns.mean() / std) if std else None,
        "return_on_capital": float(pnl.sum() / capital.sum()),
        "peak_capital_usd": peak,
        "return_on_peak_capital": float(pnl.sum() / peak) if peak > 0 else None,
        "max_concurrent": most,
        "elapsed_days": elapsed_days,
        "annualised_return_on_peak_capital": annual_return,
        "sharpe": sharpe,
        "annualised_basis": basis,
        "max_drawdown_usd": max(drawdown, 0.0),
        "cost_usd": float(np.sum(bets.column("cost_usd").to_pylist())),
        "fees_usd": float(np.sum(bets.column("fee_usd").to_pylist())),
    }
