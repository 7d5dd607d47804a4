"""The simulated world as the HTTP/WS layers see it: catalog + clock + microstructure + ground-truth logs.

The world never "steps": every answer is computed from (seed, market, time) on demand. What it does keep is
what was actually served (book states and hashes, in a bounded ring buffer) and counters, so tests can
compare what a client recorded with what the world produced.
"""

from __future__ import annotations

import collections
import gc
import time

from .catalog import Catalog
from .clock import SimClock
from .fmt import fmt_milli
from .orderbook import BookState, MicroModel
from .pricing import CALIBRATIONS, DEFAULT_MARKET
from .restarts import HALT_S, POST_ONLY_S, RestartSchedule

SERVED_LOG_SIZE = 200_000


class Stats:
    def __init__(self) -> None:
        self.requests: collections.Counter = collections.Counter()
        self.faults: collections.Counter = collections.Counter()
        self.ws_connections_total = 0
        self.ws_connections_open = 0
        self.ws_messages_sent = 0
        self.ws_frames_sent = 0
        self.internal_errors = 0
        self.started = time.time()

    def as_dict(self) -> dict:
        return {
            "requests": dict(self.requests),
            "faults": dict(self.faults),
            "ws_connections_total": self.ws_connections_total,
            "ws_connections_open": self.ws_connections_open,
            "ws_messages_sent": self.ws_messages_sent,
            "ws_frames_sent": self.ws_frames_sent,
            "internal_errors": self.internal_errors,
            "uptime_s": time.time() - self.started,
        }


class World:
    def __init__(
        self,
        seed: int,
        n_markets: int,
        start: float,
        speed: float,
        informed_flow: float,
        market: str = DEFAULT_MARKET,
        weekly_restarts: bool = False,
        **catalog_options,
    ) -> None:
        self.seed = seed
        self.informed_flow = informed_flow
        self.market = market
        self.start = start
        self.clock = SimClock(start, speed)
        calibration = CALIBRATIONS[market]
        self.catalog = Catalog(seed, n_markets, start, calibration, **catalog_options)
        self.restarts = RestartSchedule(weekly=weekly_restarts)
        self.micro = MicroModel(seed, informed_flow, calibration=calibration, restarts=self.restarts)
        self.stats = Stats()
        self.served = collections.deque(maxlen=SERVED_LOG_SIZE)
        # The catalog is a large, long-lived object graph: keep the cyclic GC from rescanning it on every
        # full collection (that alone cost ~150 ms pauses at 50k markets).
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 20, 100)

    def now(self) -> float:
        t = self.clock.now()
        self.catalog.ensure(t)
        return t

    def schedule_restart(self, start: float) -> dict:
        """A planned restart at `start` (simulated seconds), at least a book tick ahead of now: a tick the feed or
        REST already served must never change its trades afterwards."""
        now = self.now()
        if start < now + 61.0:
            raise ValueError(f"a restart must start at least 61 s ahead of now ({now:.3f}), got {start:.3f}")
        self.restarts.add(start)
        self.micro.forget()
        return {"start": start, "halt_end": start + HALT_S, "post_only_end": start + HALT_S + POST_ONLY_S}

    # -- books ----------------------------------------------------------------------------------------------

    def live(self, m, t: float) -> bool:
        return m.created_at <= t < m.resolved_at

    def state(self, m, t: float) -> BookState | None:
        if not self.live(m, t):
            return None
        return self.micro.state_at(m, int(t * 1000))

    def book_payload(
        self, st: BookState, idx: int, source: str | None, with_event_type: bool = False
    ) -> dict:
        """The /book JSON (and, with event_type, the WS `book` message) of token idx in state st."""
        m = st.market
        bids, asks = st.wire_levels(idx)
        h = st.hash(idx)
        lt = self.micro.last_trade(m, st.ts_ms)
        body = {
            "market": m.condition_id,
            "asset_id": st.token(idx),
            "timestamp": str(st.ts_ms),
            "hash": h,
            "bids": bids,
            "asks": asks,
        }
        if with_event_type:
            body["event_type"] = "book"
            body["tick_size"] = fmt_milli(st.tick)
            body["last_trade_price"] = _ltp(lt, idx)
        else:
            body["min_order_size"] = "5"
            body["tick_size"] = fmt_milli(st.tick)
            body["neg_risk"] = m.neg_risk
            body["last_trade_price"] = _ltp(lt, idx)
        if source is not None:
            self.served.append((st.token(idx), st.ts_ms, h, source, time.time()))
        return body


def _ltp(trade, idx: int) -> str:
    if trade is None:
        return "0"
    p = trade.price if trade.token_index == idx else 1000 - trade.price
    return fmt_milli(p)


def market_brier(world: World, hours: float, since: float, until: float) -> tuple[float, float, int]:
    """(Brier of the market's price, Brier of the Bayes-optimal price given every whale order so far, rows)
    `hours` before close, over the resolved YES/NO markets whose instant falls in [since, until]: how hard
    the simulated market is to beat, and what the best possible model would gain."""
    from .orderbook import tick_of
    from .pricing import Calibration, fair_yes, market_yes

    world.catalog.ensure(until + hours * 3600)
    everything = Calibration(prior_var=1.0, clock_power=1.0, mm_learns=True)  # every order priced in
    market = best = 0.0
    n = 0
    for m in world.catalog.markets:
        t = m.end_date - hours * 3600
        if m.outcome not in ("YES", "NO") or not since <= t <= until or t < m.created_at + 600:
            continue
        y = 1.0 if m.outcome == "YES" else 0.0
        t_ms = int(t * 1000)
        net = world.micro._net_whale_orders(m, tick_of(m, t_ms)) if world.micro.evidence else 0
        p_best = market_yes(fair_yes(world.seed, m, t), world.micro.evidence, net, 0, everything)
        market += (world.micro.market_yes(m, t_ms) - y) ** 2
        best += (p_best - y) ** 2
        n += 1
    return (market / n, best / n, n) if n else (float("nan"), float("nan"), 0)
