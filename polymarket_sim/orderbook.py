"""Book states and trades: the market microstructure, derived per (market, book tick) from seeded hashes.

Each market has a fixed book tick (5-60 s) and phase. At the start of tick k the YES book is rebuilt around
the market maker's price (the fair price moved by the whale orders it has learned from, `market_yes`) from
a persistent ladder (each price level keeps its size for several ticks), which is the
"base" book of the tick. Trades in tick k are a Poisson draw with times inside the tick; each takes the best
level on its side at that instant and removes its size from that level (a level emptied by a trade
disappears). The NO book is always the mirror of the YES book (NO bids = 1 - YES asks), because Polymarket
matches complementary orders in one book. So the state of both books at any instant is a pure function of
(seed, informed_flow, market, tick, time within tick), cached per tick.

Prices are int thousandths, sizes int millionths. Lists are in wire order: bids ascending, asks descending,
so the best level of each side is the last element.
"""

from __future__ import annotations

import bisect
import hashlib
import math
from collections import OrderedDict
from statistics import NormalDist

from .fmt import fmt_micro, fmt_milli
from .pricing import CALIBRATIONS, DEFAULT_MARKET, Calibration, fair_yes, market_yes, whale_evidence
from .rng import T_INTENT, T_LEVEL, T_SPREAD, T_TRADE, T_TRADE_ANY, Stream, h, u01

_INV53 = 2.0**-53

WHALE_USD = 1000.0
N_WHALE_WALLETS = 200
N_RETAIL_WALLETS = 20000


class Trade:
    __slots__ = (
        "k",
        "market",
        "price",
        "seq",
        "side",
        "size",
        "t_ms",
        "token_index",
        "tx_hash",
        "wallet",
        "whale",
    )

    @property
    def asset_id(self) -> str:
        return self.market.yes_token if self.token_index == 0 else self.market.no_token

    @property
    def notional(self) -> float:
        return self.price * self.size / 1e9


class BookState:
    """Both token books of a market at one instant (YES levels; NO derived on demand)."""

    __slots__ = ("_cache", "asks", "bids", "market", "tick", "ts_ms")

    def __init__(self, market, ts_ms: int, tick: int, bids: list, asks: list) -> None:
        self.market = market
        self.ts_ms = ts_ms
        self.tick = tick
        self.bids = bids
        self.asks = asks
        self._cache: dict = {}

    def levels(self, idx: int) -> tuple[list, list]:
        """(bids ascending, asks descending) of token idx as [price_milli, size_micro] pairs."""
        if idx == 0:
            return self.bids, self.asks
        hit = self._cache.get("no")
        if hit is None:
            hit = ([(1000 - p, s) for p, s in self.asks], [(1000 - p, s) for p, s in self.bids])
            self._cache["no"] = hit
        return hit

    def best(self, idx: int) -> tuple[int | None, int | None]:
        bids, asks = self.levels(idx)
        return (bids[-1][0] if bids else None, asks[-1][0] if asks else None)

    def token(self, idx: int) -> str:
        return self.market.yes_token if idx == 0 else self.market.no_token

    def hash(self, idx: int) -> str:
        key = ("hash", idx)
        hit = self._cache.get(key)
        if hit is None:
            bids, asks = self.levels(idx)
            # The hash covers the token and its levels (not the time): a tick that changes no level keeps the
            # hash, so a WS client that received no price_change still agrees with REST.
            text = f"{self.token(idx)}|{bids}|{asks}"
            hit = hashlib.sha1(text.encode()).hexdigest()
            self._cache[key] = hit
        return hit

    def wire_levels(self, idx: int) -> tuple[list, list]:
        key = ("wire", idx)
        hit = self._cache.get(key)
        if hit is None:
            bids, asks = self.levels(idx)
            hit = (
                [{"price": fmt_milli(p), "size": fmt_micro(s)} for p, s in bids],
                [{"price": fmt_milli(p), "size": fmt_micro(s)} for p, s in asks],
            )
            self._cache[key] = hit
        return hit

    def mid_milli2(self, idx: int) -> int | None:
        """Twice the midpoint in thousandths (exact); a missing side counts as 0 / 1000."""
        bb, ba = self.best(idx)
        if bb is None and ba is None:
            return None
        return (bb or 0) + (ba if ba is not None else 1000)


class TickState:
    """Full book states of one tick: states[0] is the base book, states[i + 1] the book after trades[i]."""

    __slots__ = ("k", "states", "t_ms", "tick", "trade_times", "trades")


class TickTrades:
    """The trades of one tick and the best prices after each, computed with lazily generated levels."""

    __slots__ = ("bests", "k", "t_ms", "tick", "trade_times", "trades")


class _Side:
    """One side of the YES book, best level first, generated level by level only as far as it is needed.

    Candidate prices run from the touch outwards, one tick apart, up to the ladder's width; each holds a
    level or not according to `level_at`. The full book and the lazy quote path both consume levels through
    this class, so a trade sees the same levels whichever path computed it.
    """

    __slots__ = ("_floor", "_level_at", "_next", "_step", "_stop", "head", "levels")

    def __init__(self, touch: int | None, step: int, stop: int, level_at, floor) -> None:
        self.levels: list = []
        self.head = 0
        self._next = touch
        self._step, self._stop, self._level_at, self._floor = step, stop, level_at, floor

    def _grow(self) -> bool:
        """Append the next level (away from the touch); False when the side is exhausted."""
        while self._next is not None:
            price = self._next
            nxt = price + self._step
            self._next = nxt if (nxt >= self._stop if self._step < 0 else nxt <= self._stop) else None
            size = self._level_at(price)
            if size:
                self.levels.append((price, size))
                return True
        if self._floor is not None:
            fp, fs = self._floor
            self._floor = None
            if not self.levels or (fp < self.levels[-1][0] if self._step < 0 else fp > self.levels[-1][0]):
                self.levels.append((fp, fs))
                return True
        return False

    def best(self):
        while self.head >= len(self.levels):
            if not self._grow():
                return None
        return self.levels[self.head]

    def consume(self, size: int) -> None:
        price, have = self.levels[self.head]
        if size >= have:
            self.head += 1
        else:
            self.levels[self.head] = (price, have - size)

    def fill(self) -> None:
        while self._grow():
            pass

    def wire(self) -> list:
        """Remaining levels in wire order: worst first, best last."""
        return self.levels[self.head :][::-1]


def tick_of(m, t_ms: int) -> int:
    return (t_ms - m.phase_ms) // m.tick_ms


def tick_start(m, k: int) -> int:
    return m.phase_ms + k * m.tick_ms


# A tick's trades and best prices (`tick_trades`) are small next to a full book, so more of them are kept: every
# endpoint that quotes a market within a tick (Gamma's best bid/ask, /price, /midpoint, a sweep) reuses it, and
# at 50,000 markets the current ticks and the last-trade scans no longer push each other out.
LAZY_TICKS_PER_BOOK = 4
# The maker's price by (market, instant): the current tick's and the four Gamma price-change instants of
# 50,000 markets fit.
PRICES_PER_BOOK = 6


class MicroModel:
    """Computes and caches per-tick states. One instance per world."""

    def __init__(
        self,
        seed: int,
        informed_flow: float,
        cache_size: int = 60000,
        calibration: Calibration | None = None,
        restarts=None,
    ) -> None:
        self.seed = seed
        self.informed_flow = informed_flow
        self.calibration = calibration or CALIBRATIONS[DEFAULT_MARKET]
        self.evidence = whale_evidence(informed_flow)
        # Per market: trading ticks in order and the net whale orders towards YES up to and including each.
        self._flow: dict[int, tuple[list[int], list[int]]] = {}
        self.restarts = restarts  # planned restarts: no trade prints inside their windows
        self._cache: OrderedDict = OrderedDict()
        self._lazy: OrderedDict = OrderedDict()
        self._prices: dict[tuple[int, int], float] = {}
        self._blocks: dict = {}
        self._cache_size = cache_size
        self._last_trade: dict[int, tuple[int, Trade | None]] = {}

    # -- base book ------------------------------------------------------------------------------------------

    def _sides(self, m, k: int, t_ms: int) -> tuple[int, _Side, _Side]:
        """Tick size and the two (lazy) sides of the base YES book of tick k.

        Books persist between ticks like real ones: the touch follows the fair price, the spread is redrawn
        every 6 ticks, and each price level keeps its size for `refresh_ticks` ticks (staggered by price), so
        consecutive books differ in a few levels and a price_change carries a handful of entries.
        """
        seed, key = self.seed, m.key
        pm = self.market_yes(m, t_ms) * 1000.0
        pm = min(998.5, max(1.5, pm))
        tick = 1 if (pm > 960.0 or pm < 40.0) else 10
        r = h(seed, T_SPREAD, key, (k + key % 6) // 6)
        spread = (_SPREAD_COARSE if tick == 10 else _SPREAD_FINE)[r & 63]
        # Rounded to the nearest tick, so the mid is an unbiased reading of the fair price.
        bb = math.floor((pm - spread * tick / 2.0) / tick + 0.5) * tick
        bb = max(tick, bb)
        ba = bb + spread * tick
        if ba > 1000 - tick:
            ba = 1000 - tick
            bb = max(tick, min(bb, ba - tick))
        depth, density, refresh = m.depth, m.density, m.refresh_ticks
        width = m.ladder_ticks * tick

        def level_at(price: int, touch_bid=bb, touch_ask=ba) -> int:
            epoch = (k + (price * 2654435761) % refresh) // refresh
            z = h(seed, T_LEVEL, key, price, epoch)
            if price != touch_bid and price != touch_ask and (z >> 11) * _INV53 >= density:
                return 0
            return _size(depth, z >> 24)

        no_bids = m.thin_side and pm < 40.0
        no_asks = m.thin_side and pm > 960.0
        bid_stop = max(tick, bb - width)
        ask_stop = min(1000 - tick, ba + width)
        # A deep resting order at 0.01 / 0.99 behind the ladder, as real books often have.
        bid_floor = (10, level_at(10) or _size(depth * 5, key)) if m.has_floor and bid_stop > 10 else None
        ask_cap = (990, level_at(990) or _size(depth * 5, key >> 7)) if m.has_cap and ask_stop < 990 else None
        bids = _Side(None if no_bids else bb, -tick, bid_stop, level_at, None if no_bids else bid_floor)
        asks = _Side(None if no_asks else ba, tick, ask_stop, level_at, None if no_asks else ask_cap)
        return tick, bids, asks

    # -- trades ---------------------------------------------------------------------------------------------

    @staticmethod
    def _tick_lambda(m, t_ms: int) -> float:
        """Expected trades in the tick starting at t_ms: the market's rate times its activity then."""
        t = t_ms / 1000.0
        if t < m.end_date:
            hours_left = (m.end_date - t) / 3600.0
            activity = 3.0 if hours_left < 4 else (1.6 if hours_left < 24 else 1.0)
        else:
            activity = 0.3
        return m.lam * activity * m.tick_ms / 1000.0

    def _block_size(self, m) -> tuple[int, float]:
        """(ticks per trade block, highest per-tick trade probability): about four candidates per block."""
        p_max = min(0.999, 1.0 - math.exp(-3.0 * m.lam * m.tick_ms / 1000.0))
        return max(8, min(1024, int(4.0 / p_max))), p_max

    def _trading_ticks(self, m, b: int) -> list[int]:
        """The ticks of block b that hold at least one trade, ascending.

        Each tick trades with probability 1 - exp(-lambda(t)). Drawn as a Bernoulli process at the highest
        rate with geometric gaps, then thinned to the rate in force at each tick, so a quiet block costs a
        couple of draws instead of one per tick; a scan for the last trade skips whole blocks.
        """
        ck = (m.gid, b)
        hit = self._blocks.get(ck)
        if hit is not None:
            return hit
        size, p_max = self._block_size(m)
        rs = Stream(self.seed, T_TRADE_ANY, m.key, b)
        ln_q = math.log(1.0 - p_max)
        k = b * size - 1
        end = (b + 1) * size
        out: list[int] = []
        while True:
            k += int(math.log(1.0 - rs.random()) / ln_q) + 1
            if k >= end:
                break
            p_k = 1.0 - math.exp(-self._tick_lambda(m, tick_start(m, k)))
            if rs.random() * p_max < p_k:
                out.append(k)
        self._blocks[ck] = out
        if len(self._blocks) > 4 * self._cache_size:
            self._blocks.clear()
        return out

    def _trade_count(self, m, k: int, t_ms: int) -> int:
        """Trades in tick k: 0 unless k is a trading tick, else a zero-truncated Poisson draw."""
        size, _ = self._block_size(m)
        ticks = self._trading_ticks(m, k // size)
        i = bisect.bisect_left(ticks, k)
        if i == len(ticks) or ticks[i] != k:
            return 0
        lam = self._tick_lambda(m, t_ms)
        p = math.exp(-lam)
        target = p + u01(self.seed, T_TRADE, m.key, k, 1) * (1.0 - p)
        cdf, n = p, 0
        while (cdf < target or n == 0) and n < 50:
            n += 1
            p *= lam / n
            cdf += p
        return n

    def _run_trades(self, m, k: int, t0: int, bids: _Side, asks: _Side, on_trade) -> tuple[list, list]:
        trades: list = []
        times: list = []
        n = self._trade_count(m, k, t0)
        if not n:
            return trades, times
        rs, stamps = self._stamps(m, k, t0, n)
        for seq, t_ms in enumerate(stamps):
            if self._restarted(t_ms):
                continue
            tr = self._draw_trade(m, rs, bids, asks, k, seq)
            if tr is None:
                continue
            tr.t_ms, tr.k, tr.seq = t_ms, k, seq
            tr.tx_hash = "0x" + rs.hexstr(64)
            trades.append(tr)
            times.append(t_ms)
            on_trade()
        return trades, times

    def _stamps(self, m, k: int, t0: int, n: int) -> tuple[Stream, list[int]]:
        """The tick's trade stream and its n order times (ms), in order; the stream goes on to draw the trades."""
        rs = Stream(self.seed, T_TRADE, m.key, k)
        return rs, sorted(t0 + rs.randint(0, m.tick_ms - 1) for _ in range(n))

    def _restarted(self, t_ms: int) -> bool:
        """Inside a planned restart window: taker orders are rejected, nothing trades."""
        return self.restarts is not None and self.restarts.no_trades(t_ms / 1000.0)

    def _intent(self, m, k: int, j: int) -> tuple[bool, float, int, str]:
        """(whale, notional USD, token, side) of the j-th order of tick k: drawn from its own stream, without
        the book, so the market maker's ledger of whale orders needs no book either."""
        rs = Stream(self.seed, T_INTENT, m.key, k, j)
        whale = rs.random() < 0.05
        if whale:
            notional = min(250_000.0, WHALE_USD * rs.random() ** (-1.0 / 1.15))
        else:
            notional = min(999.0, math.exp(math.log(25.0) + 1.3 * rs.gauss()))
        token = rs.randint(0, 1)
        if whale and m.outcome != "INVALID" and rs.random() < self.informed_flow:
            # Informed whales buy the token that will win, or sell the one that will lose.
            winner = 0 if m.outcome == "YES" else 1
            side = "BUY" if token == winner else "SELL"
        else:
            side = "BUY" if rs.random() < 0.5 else "SELL"
        return whale, notional, token, side

    def _draw_trade(self, m, rs: Stream, bids: _Side, asks: _Side, k: int, j: int) -> Trade | None:
        whale, notional, token, side = self._intent(m, k, j)
        # Buying YES or selling NO takes a YES ask; selling YES or buying NO hits a YES bid.
        book_side = asks if (token == 0) == (side == "BUY") else bids
        top = book_side.best()
        if top is None:
            return None
        yes_price = top[0]
        price = yes_price if token == 0 else 1000 - yes_price
        size = max(10_000, int(notional / (price / 1000.0) * 1e6) // 100 * 100)
        book_side.consume(size)
        tr = Trade()
        tr.market, tr.token_index, tr.side, tr.price, tr.size, tr.whale = m, token, side, price, size, whale
        tr.wallet = (
            rs.randint(0, N_WHALE_WALLETS - 1)
            if whale
            else N_WHALE_WALLETS + rs.randint(0, N_RETAIL_WALLETS - 1)
        )
        return tr

    # -- the market maker's price -----------------------------------------------------------------------------

    def _net_whale_orders(self, m, k_before: int) -> int:
        """Net whale orders towards YES in the ticks before k_before (every order placed, filled or not: the
        market maker sees the order flow; a planned restart rejects the orders of its window)."""
        ticks, cum = self._flow.setdefault(m.gid, ([], []))
        size, _ = self._block_size(m)
        done = ticks[-1] if ticks else tick_of(m, int(m.created_at * 1000)) - 1
        if done < k_before - 1:
            total = cum[-1] if cum else 0
            for b in range((done + 1) // size, (k_before - 1) // size + 1):
                for k in self._trading_ticks(m, b):
                    if k <= done or k >= k_before:
                        continue
                    t0 = tick_start(m, k)
                    n = self._trade_count(m, k, t0)
                    rejected = self._rejected_orders(m, k, t0, n)
                    for j in range(n):
                        whale, _, token, side = self._intent(m, k, j)
                        if whale and j not in rejected:
                            total += 1 if (token == 0) == (side == "BUY") else -1
                    ticks.append(k)
                    cum.append(total)
            if not ticks or ticks[-1] < k_before - 1:
                ticks.append(k_before - 1)
                cum.append(total)
        i = bisect.bisect_left(ticks, k_before) - 1
        return cum[i] if i >= 0 else 0

    def _rejected_orders(self, m, k: int, t0: int, n: int) -> set[int]:
        """The tick's orders a planned restart rejected: the market maker never sees them."""
        if (
            self.restarts is None
            or not n
            or not self.restarts.windows(t0 / 1000.0, (t0 + m.tick_ms) / 1000.0)
        ):
            return set()
        _, stamps = self._stamps(m, k, t0, n)
        return {j for j, t_ms in enumerate(stamps) if self._restarted(t_ms)}

    def market_yes(self, m, t_ms: int) -> float:
        """The YES price the market maker quotes at t_ms: the fair price, moved by the whale orders of the
        ticks before the current one (see `pricing.market_yes`). Memoised: a quote and Gamma's price changes
        ask for the same instants again (every request within a tick, every listing of a paused world)."""
        ck = (m.gid, t_ms)
        hit = self._prices.get(ck)
        if hit is None:
            if len(self._prices) > PRICES_PER_BOOK * self._cache_size:
                self._prices.clear()
            hit = self._prices[ck] = self._market_yes(m, t_ms)
        return hit

    def _market_yes(self, m, t_ms: int) -> float:
        fair = fair_yes(self.seed, m, t_ms / 1000.0)
        cal = self.calibration
        if not cal.mm_learns or not self.evidence:
            return fair
        k = tick_of(m, min(t_ms, int(m.end_date * 1000)))
        net_now = self._net_whale_orders(m, k)
        net_old = self._net_whale_orders(
            m, tick_of(m, min(t_ms, int(m.end_date * 1000)) - int(cal.mm_lag_s * 1000))
        )
        return market_yes(fair, self.evidence, net_old, net_now - net_old, cal)

    def forget(self) -> None:
        """Drop every cached tick and the maker's order-flow tally (the restart schedule changed; ticks it does
        not touch recompute identically)."""
        self._cache.clear()
        self._flow.clear()
        self._lazy.clear()
        self._prices.clear()
        self._last_trade.clear()

    def tick_state(self, m, k: int) -> TickState:
        ck = (m.gid, k)
        hit = self._cache.get(ck)
        if hit is not None:
            self._cache.move_to_end(ck)
            return hit
        t0 = tick_start(m, k)
        tick, bids, asks = self._sides(m, k, t0)
        bids.fill()
        asks.fill()
        ts = TickState()
        ts.k, ts.t_ms, ts.tick = k, t0, tick
        ts.states = [BookState(m, t0, tick, bids.wire(), asks.wire())]

        # The snapshot after each trade is stamped with that trade's time once the times are known.
        trades, times = self._run_trades(
            m, k, t0, bids, asks, lambda: ts.states.append(BookState(m, 0, tick, bids.wire(), asks.wire()))
        )
        for st, t_ms in zip(ts.states[1:], times):
            st.ts_ms = t_ms
        ts.trades, ts.trade_times = trades, times
        self._cache[ck] = ts
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return ts

    def tick_trades(self, m, k: int) -> TickTrades:
        """Trades and best prices of tick k without generating the whole book (cheap; used for scans)."""
        ck = (m.gid, k)
        hit = self._lazy.get(ck)
        if hit is not None:
            return hit
        full = self._cache.get(ck)
        tt = TickTrades()
        t0 = tick_start(m, k)
        tt.k, tt.t_ms = k, t0
        if full is not None:
            tt.tick, tt.trades, tt.trade_times = full.tick, full.trades, full.trade_times
            tt.bests = [st.best(0) for st in full.states]
        else:
            tick, bids, asks = self._sides(m, k, t0)
            tt.tick = tick

            def best_pair():
                b, a = bids.best(), asks.best()
                return (b[0] if b else None, a[0] if a else None)

            tt.bests = [best_pair()]
            tt.trades, tt.trade_times = self._run_trades(
                m, k, t0, bids, asks, lambda: tt.bests.append(best_pair())
            )
        self._lazy[ck] = tt
        if len(self._lazy) > LAZY_TICKS_PER_BOOK * self._cache_size:
            self._lazy.popitem(last=False)
        return tt

    # -- queries --------------------------------------------------------------------------------------------

    def state_at(self, m, t_ms: int) -> BookState:
        """Book state of market m at t_ms (assumes the market is live then)."""
        ts = self.tick_state(m, tick_of(m, t_ms))
        i = bisect.bisect_right(ts.trade_times, t_ms)
        return ts.states[i]

    def quote_at(self, m, t_ms: int) -> tuple[int, int | None, int | None]:
        """(tick size, best YES bid, best YES ask) at t_ms, in thousandths, without building the full book."""
        tt = self.tick_trades(m, tick_of(m, t_ms))
        i = bisect.bisect_right(tt.trade_times, t_ms)
        bb, ba = tt.bests[i]
        return tt.tick, bb, ba

    def _ticks_with_trades(self, m, k_lo: int, k_hi: int):
        """Trading ticks in [k_lo, k_hi], ascending."""
        size, _ = self._block_size(m)
        for b in range(k_lo // size, k_hi // size + 1):
            for k in self._trading_ticks(m, b):
                if k_lo <= k <= k_hi:
                    yield k

    def trades_between(self, m, start_ms: int, end_ms: int) -> list[Trade]:
        """Trades with start_ms <= t < end_ms, oldest first, limited to the market's live window."""
        lo = max(start_ms, int(m.created_at * 1000))
        hi = min(end_ms, int(m.resolved_at * 1000))
        out: list[Trade] = []
        if hi <= lo:
            return out
        for k in self._ticks_with_trades(m, tick_of(m, lo), tick_of(m, hi - 1)):
            for tr in self.tick_trades(m, k).trades:
                if lo <= tr.t_ms < hi:
                    out.append(tr)
        return out

    def last_trade(self, m, t_ms: int) -> Trade | None:
        """The latest trade at or before t_ms, scanning back block by block to the market's creation.

        Memoised per market (the scan stops where the previous one began), and exact either way: the answer
        never depends on which queries came before.
        """
        k = tick_of(m, t_ms)
        cur = self.tick_trades(m, k)
        i = bisect.bisect_right(cur.trade_times, t_ms)
        if i:
            return cur.trades[i - 1]
        stop = tick_of(m, int(m.created_at * 1000))
        memo = self._last_trade.get(m.gid)
        if memo is not None and memo[0] <= k - 1:
            stop = max(stop, memo[0] + 1)
        found = None
        size, _ = self._block_size(m)
        b = (k - 1) // size
        while found is None and (b + 1) * size > stop:
            for kk in reversed(self._trading_ticks(m, b)):
                if kk > k - 1 or kk < stop:
                    continue
                trs = self.tick_trades(m, kk).trades
                if trs:
                    found = trs[-1]
                    break
            b -= 1
        if found is None and memo is not None and memo[0] <= k - 1:
            found = memo[1]
        self._last_trade[m.gid] = (k - 1, found)
        return found


def _lognormal_table(n: int = 1024, sigma: float = 0.9) -> list[float]:
    nd = NormalDist()
    return [math.exp(sigma * nd.inv_cdf((i + 0.5) / n)) for i in range(n)]


# A lookup table keeps a level's size to one 64-bit draw.
_LOGN = _lognormal_table()
_SPREAD_COARSE = [1] * 35 + [2] * 16 + [3] * 8 + [4] * 5
_SPREAD_FINE = [1] * 19 + [2] * 16 + [3] * 13 + [5] * 10 + [8] * 6


def _size(depth: float, x: int) -> int:
    """A level size in millionths from 64 random bits: lognormal around depth, >= 5 shares, 2 dp."""
    shares = depth * _LOGN[x & 1023]
    shares = max(shares, 5.0)
    return int(shares * 100) * 10_000
