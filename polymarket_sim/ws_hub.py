"""The market WebSocket (/ws/market): connections, subscriptions, and time-ordered event emission.

The hub keeps one cursor in simulated time (`emitted_ms`). Whenever the clock moves (a 50 ms wall tick at
speed > 0, or a control-API clock change) it replays every event of every subscribed market between the old
and the new cursor, in time order, from a heap of per-market pointers (tick boundary or trade). A market's
messages are diffs against the last state the hub emitted for it, and initial dumps are taken at the cursor,
so a client that applies what it receives holds exactly the state REST serves at that instant.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import heapq
import json
import sys
import time

from aiohttp import WSMsgType, web

from . import ws_messages as msgs
from .orderbook import tick_of, tick_start
from .trade_render import ws_last_trade

LOOP_INTERVAL_S = 0.05
MAX_QUEUE = 200_000
CATCH_UP_SLICE_MS = 300_000


class Connection:
    _ids = 0

    def __init__(self, ws: web.WebSocketResponse, transport) -> None:
        Connection._ids += 1
        self.id = Connection._ids
        self.ws = ws
        self.transport = transport
        self.assets: set[str] = set()
        self.custom = False
        self.last_ping = time.monotonic()
        self.frozen_until = 0.0
        self.queue: asyncio.Queue = asyncio.Queue()
        self.closed = False


class Hub:
    def __init__(self, world, faults, idle_timeout: float, max_assets: int = 500) -> None:
        self.world = world
        self.faults = faults
        self.idle_timeout = idle_timeout
        # Real sockets with more than ~500 assets silently stop receiving (polymarket_api.md §4.1).
        self.max_assets = max_assets
        self.conns: set[Connection] = set()
        self.by_token: dict[str, set[Connection]] = {}
        self.emitted_ms = int(world.now() * 1000)
        self.heap: list = []
        self.last_state: dict[int, object] = {}
        self.frozen_until = 0.0
        self._tasks: list[asyncio.Task] = []
        # Ground truth for latency tests: each custom event dispatched (event_type, condition_id, t_ms, wall s),
        # and the wall time each token was first subscribed by any client.
        self.custom_sent: collections.deque = collections.deque(maxlen=100_000)
        self.first_subscribed: dict[str, float] = {}

    # -- lifecycle ------------------------------------------------------------------------------------------

    async def start(self, app) -> None:
        self._tasks = [asyncio.create_task(self._clock_loop()), asyncio.create_task(self._housekeeping())]

    async def stop(self, app) -> None:
        for t in self._tasks:
            t.cancel()
        for c in list(self.conns):
            await c.ws.close()

    async def _clock_loop(self) -> None:
        while True:
            await asyncio.sleep(LOOP_INTERVAL_S)
            try:
                if self.world.clock.speed > 0:
                    # A bounded chunk per wake-up: if the feed falls behind a fast clock it lags (complete and
                    # in order) instead of starving the HTTP handlers.
                    self.catch_up_sync(budget_s=0.2)
            except Exception as exc:  # noqa: BLE001 - never let one bad event stop the feed
                # stdout carries only the startup line; diagnostics go to stderr.
                print(f"polymarket_sim ws hub error: {exc!r}", file=sys.stderr, flush=True)
                self.world.stats.internal_errors += 1

    async def _housekeeping(self) -> None:
        """Once a second: drop silent clients and roll the per-connection WS faults."""
        rng = self.faults.rng
        stats = self.world.stats
        while True:
            await asyncio.sleep(1.0)
            now = time.monotonic()
            for c in list(self.conns):
                if now - c.last_ping > self.idle_timeout:
                    await self._drop(c, abrupt=False)
                    continue
                if rng.random() < self.faults["ws_disconnect_per_min"] / 60.0:
                    stats.faults["ws_disconnect"] += 1
                    await self._drop(c, abrupt=True)
                    continue
                if c.frozen_until < now and rng.random() < self.faults["ws_freeze_per_min"] / 60.0:
                    stats.faults["ws_freeze"] += 1
                    c.frozen_until = now + self.faults["ws_freeze_s"]

    async def _drop(self, c: Connection, abrupt: bool) -> None:
        self._unregister(c)
        if abrupt and c.transport is not None:
            c.transport.abort()
        else:
            await c.ws.close()

    # -- subscriptions --------------------------------------------------------------------------------------

    def _register(self, c: Connection) -> None:
        self.conns.add(c)
        self.world.stats.ws_connections_total += 1
        self.world.stats.ws_connections_open = len(self.conns)

    def _unregister(self, c: Connection) -> None:
        if c in self.conns:
            self.conns.discard(c)
            for tok in c.assets:
                s = self.by_token.get(tok)
                if s:
                    s.discard(c)
                    if not s:
                        del self.by_token[tok]
            c.closed = True
            c.queue.put_nowait(None)
        self.world.stats.ws_connections_open = len(self.conns)

    def subscribe(self, c: Connection, assets: list[str], dump: bool) -> None:
        # The dump is taken at the hub's cursor, so it is consistent with the updates that follow it.
        self.catch_up_sync(budget_s=0.2)
        t = self.emitted_ms
        books = []
        wall = time.time()
        for tok in assets:
            tok = str(tok)
            c.assets.add(tok)
            self.by_token.setdefault(tok, set()).add(c)
            self.first_subscribed.setdefault(tok, wall)
            hit = self.world.catalog.market_by_token(tok, t / 1000.0)
            if hit is None:
                continue
            m, idx = hit
            st = self._ensure_tracked(m)
            if st is not None and dump:
                books.append(self.world.book_payload(st, idx, "ws_dump", with_event_type=True))
        if books:
            # The initial dump arrives as one array frame (polymarket_api.md §4.2).
            self._enqueue(c, json.dumps(books, separators=(",", ":")), len(books))

    def unsubscribe(self, c: Connection, assets: list[str]) -> None:
        for tok in assets:
            tok = str(tok)
            c.assets.discard(tok)
            s = self.by_token.get(tok)
            if s:
                s.discard(c)
                if not s:
                    del self.by_token[tok]

    def _ensure_tracked(self, m):
        """Start following market m from the cursor; returns its state at the cursor (None if not live)."""
        t = self.emitted_ms
        if not (m.created_at * 1000 <= t < m.resolved_at * 1000):
            return None
        st = self.last_state.get(m.gid)
        if st is not None:
            return st
        micro = self.world.micro
        k = tick_of(m, t)
        ts = micro.tick_state(m, k)
        i = bisect.bisect_right(ts.trade_times, t)
        st = ts.states[i]
        self.last_state[m.gid] = st
        nxt = (
            (ts.trade_times[i], m.gid, k, i)
            if i < len(ts.trades)
            else (tick_start(m, k + 1), m.gid, k + 1, -1)
        )
        heapq.heappush(self.heap, nxt)
        return st

    def _tracked_wanted(self, m) -> bool:
        return m.yes_token in self.by_token or m.no_token in self.by_token

    # -- emission -------------------------------------------------------------------------------------------

    async def catch_up(self) -> None:
        """Emit everything up to now, yielding to other requests between 200 ms chunks of work."""
        while not self.catch_up_sync(budget_s=0.2):
            await asyncio.sleep(0)

    def catch_up_sync(self, budget_s: float | None = None) -> bool:
        """Emit events up to now; with a wall-time budget, stop early (at a slice edge) and return False."""
        deadline = None if budget_s is None else time.perf_counter() + budget_s
        t1 = int(self.world.now() * 1000)
        t0 = self.emitted_ms
        if t1 < t0:
            # The clock went back: restart every market from the new instant, emitting nothing.
            self.emitted_ms = t1
            self.heap.clear()
            self.last_state.clear()
            for tok in list(self.by_token):
                hit = self.world.catalog.market_by_token(tok, t1 / 1000.0)
                if hit:
                    self._ensure_tracked(hit[0])
            return True
        if t1 == t0:
            return True
        # Replay in slices of simulated time so a long clock jump never holds every message in memory at once.
        glob_all = self._global_events(t0, t1) if any(c.custom for c in self.conns) else []
        gi = 0
        heap = self.heap
        cat = self.world.catalog
        slice_end = t0
        while slice_end < t1:
            slice_end = min(t1, slice_end + CATCH_UP_SLICE_MS)
            out: dict[Connection, list] = {}
            while heap and heap[0][0] <= slice_end:
                t_ms, gid, k, idx = heapq.heappop(heap)
                while gi < len(glob_all) and glob_all[gi][0] <= t_ms:
                    self._dispatch_custom(out, glob_all[gi][1])
                    gi += 1
                m = cat.by_id[gid]
                if not self._tracked_wanted(m) or t_ms >= m.resolved_at * 1000:
                    self.last_state.pop(gid, None)
                    continue
                self._market_event(out, m, t_ms, k, idx)
            while gi < len(glob_all) and glob_all[gi][0] <= slice_end:
                self._dispatch_custom(out, glob_all[gi][1])
                gi += 1
            self.emitted_ms = slice_end
            for c, items in out.items():
                self._flush(c, items)
            if deadline is not None and slice_end < t1 and time.perf_counter() > deadline:
                return False
        return True

    def _global_events(self, t0: int, t1: int) -> list:
        cat = self.world.catalog
        ev = []
        lo = bisect.bisect_right(cat.created, t0 / 1000.0)
        hi = bisect.bisect_right(cat.created, t1 / 1000.0)
        for m in cat.markets[lo:hi]:
            t = int(m.created_at * 1000)
            ev.append((t, msgs.new_market(m, t)))
        lo = bisect.bisect_right(cat.resolutions, (t0 / 1000.0, 1 << 62))
        hi = bisect.bisect_right(cat.resolutions, (t1 / 1000.0, 1 << 62))
        for res_at, gid in cat.resolutions[lo:hi]:
            t = int(res_at * 1000)
            ev.append((t, msgs.market_resolved(cat.by_id[gid], t)))
        ev.sort(key=lambda x: x[0])
        return ev

    def _dispatch_custom(self, out, body) -> None:
        self.custom_sent.append((body["event_type"], body["market"], int(body["timestamp"]), time.time()))
        for c in self.conns:
            if c.custom:
                out.setdefault(c, []).append((int(body["timestamp"]), body))

    def _to_asset(self, out, token: str, t_ms: int, body, custom_only: bool = False) -> None:
        for c in self.by_token.get(token, ()):
            if custom_only and not c.custom:
                continue
            out.setdefault(c, []).append((t_ms, body))

    def _market_event(self, out, m, t_ms: int, k: int, idx: int) -> None:
        if self.world.restarts.halted(t_ms / 1000.0):
            # Matching is halted: nothing changes on the wire. The next message after the halt is a diff against
            # the last state emitted, so a client's books stay exact.
            self._push_next(m, k, idx)
            return
        micro = self.world.micro
        ts = micro.tick_state(m, k)
        prev = self.last_state.get(m.gid)
        cur = ts.states[idx + 1] if idx >= 0 else ts.states[0]
        toks = (m.yes_token, m.no_token)
        if idx < 0:
            if prev is not None and prev.tick != cur.tick:
                for i, tok in enumerate(toks):
                    old, new = (prev.tick, cur.tick)
                    self._to_asset(out, tok, t_ms, msgs.tick_size_change(m, tok, old, new, t_ms))
            if prev is not None:
                body = msgs.price_change(prev, cur, t_ms)
                if body is not None:
                    targets = self.by_token.get(toks[0], set()) | self.by_token.get(toks[1], set())
                    for c in targets:
                        out.setdefault(c, []).append((t_ms, body))
                    for i in (0, 1):
                        self.world.served.append(
                            (toks[i], cur.ts_ms, cur.hash(i), "ws_price_change", time.time())
                        )
        else:
            tr = ts.trades[idx]
            self._to_asset(out, tr.asset_id, t_ms, ws_last_trade(tr))
            # "book" is sent when a trade affects the book; the trade moved both tokens' books.
            for i, tok in enumerate(toks):
                if tok in self.by_token:
                    self._to_asset(
                        out, tok, t_ms, self.world.book_payload(cur, i, "ws_book", with_event_type=True)
                    )
        if prev is not None:
            for i, tok in enumerate(toks):
                if prev.best(i) != cur.best(i):
                    self._to_asset(out, tok, t_ms, msgs.best_bid_ask(cur, i, t_ms), custom_only=True)
        self.last_state[m.gid] = cur
        self._push_next(m, k, idx)

    def _push_next(self, m, k: int, idx: int) -> None:
        """Queue the market's next event after (tick k, trade idx), or stop following it once it resolved."""
        ts = self.world.micro.tick_state(m, k)
        if idx + 1 < len(ts.trades):
            nxt = (ts.trade_times[idx + 1], m.gid, k, idx + 1)
        else:
            nxt = (tick_start(m, k + 1), m.gid, k + 1, -1)
        if nxt[0] < m.resolved_at * 1000:
            heapq.heappush(self.heap, nxt)
        else:
            self.last_state.pop(m.gid, None)

    def _flush(self, c: Connection, items: list) -> None:
        """Encode one connection's messages: same-timestamp runs go out as one array frame."""
        cache: dict[int, str] = {}
        i = 0
        while i < len(items):
            j = i + 1
            while j < len(items) and items[j][0] == items[i][0]:
                j += 1
            parts = []
            for _, body in items[i:j]:
                key = id(body)
                enc = cache.get(key)
                if enc is None:
                    enc = json.dumps(body, separators=(",", ":"))
                    cache[key] = enc
                parts.append(enc)
            text = parts[0] if len(parts) == 1 else "[" + ",".join(parts) + "]"
            self._enqueue(c, text, len(parts))
            i = j

    def _enqueue(self, c: Connection, text: str, n_messages: int) -> None:
        if c.closed:
            return
        if self.max_assets and len(c.assets) > self.max_assets:
            self.world.stats.faults["ws_over_asset_cap_dropped"] += n_messages
            return
        now = time.monotonic()
        if now < self.frozen_until or now < c.frozen_until:
            self.world.stats.faults["ws_frozen_dropped"] += n_messages
            return
        if self.faults["ws_malformed_rate"] and self.faults.rng.random() < self.faults["ws_malformed_rate"]:
            self.world.stats.faults["ws_malformed"] += 1
            text = text[: max(1, len(text) // 2)]
        if c.queue.qsize() > MAX_QUEUE:
            # A consumer this far behind is cut off, as a real server would.
            asyncio.ensure_future(self._drop(c, abrupt=True))
            return
        c.queue.put_nowait((text, n_messages))

    # -- control hooks --------------------------------------------------------------------------------------

    async def disconnect_all(self) -> int:
        conns = list(self.conns)
        for c in conns:
            await self._drop(c, abrupt=True)
        return len(conns)

    def freeze(self, seconds: float) -> None:
        self.frozen_until = time.monotonic() + seconds

    async def burst(self, n: int) -> dict:
        """Send n price_change messages (re-stating current levels, so state is unchanged) as fast as possible."""
        await self.catch_up()
        markets = [self.world.catalog.by_id[g] for g in list(self.last_state)]
        if not markets:
            return {"sent_messages": 0, "connections": 0, "seconds": 0.0}
        t0 = time.perf_counter()
        encoded = []
        for m in markets:
            st = self.last_state[m.gid]
            body = msgs.noop_price_change(st, self.emitted_ms)
            targets = self.by_token.get(m.yes_token, set()) | self.by_token.get(m.no_token, set())
            encoded.append((json.dumps(body, separators=(",", ":")), targets))
        sent = 0
        for i in range(n):
            text, targets = encoded[i % len(encoded)]
            for c in targets:
                self._enqueue(c, text, 1)
                sent += 1
        await asyncio.sleep(0)
        return {"sent_messages": sent, "connections": len(self.conns), "seconds": time.perf_counter() - t0}

    # -- the socket handler ---------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=8 * 1024 * 1024)
        await ws.prepare(request)
        c = Connection(ws, request.transport)
        self._register(c)
        writer = asyncio.create_task(self._writer(c))
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                data = msg.data
                if data.strip() == "PING":
                    c.last_ping = time.monotonic()
                    await ws.send_str("PONG")
                    continue
                self._on_message(c, data)
        finally:
            self._unregister(c)
            writer.cancel()
        return ws

    def _on_message(self, c: Connection, data: str) -> None:
        try:
            body = json.loads(data)
        except ValueError:
            return
        if not isinstance(body, dict):
            return
        assets = body.get("assets_ids") or body.get("asset_ids") or []
        if not isinstance(assets, list):
            return
        if "custom_feature_enabled" in body:
            c.custom = bool(body["custom_feature_enabled"])
        op = str(body.get("operation", "subscribe")).lower()
        if op == "unsubscribe":
            self.unsubscribe(c, assets)
        else:
            self.subscribe(c, assets, dump=bool(body.get("initial_dump", True)))

    async def _writer(self, c: Connection) -> None:
        stats = self.world.stats
        while True:
            item = await c.queue.get()
            if item is None or c.ws.closed:
                return
            text, n = item
            try:
                await c.ws.send_str(text)
            except (ConnectionResetError, RuntimeError):
                return
            stats.ws_frames_sent += 1
            stats.ws_messages_sent += n


def setup(app: web.Application, world, faults, idle_timeout: float = 30.0, max_assets: int = 500) -> None:
    hub = Hub(world, faults, idle_timeout, max_assets)
    app["ws_hub"] = hub
    app.router.add_get("/ws/market", hub.handle, name="ws_market")
    app.on_startup.append(hub.start)
    app.on_shutdown.append(hub.stop)
