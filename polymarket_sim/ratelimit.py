"""Per-endpoint sliding-window rate limits (polymarket_api.md §3), enforced by delay (default) or by 429.

All clients here share 127.0.0.1, so the windows are global, which is what a per-IP limit means for them.
Windows run on the wall clock: limits protect the server in real time, whatever the simulated speed. The clock
and the middleware's `sleep` are injectable, so tests assert exact waits on a fake one.
"""

from __future__ import annotations

import asyncio
import collections
import math
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from .http_util import dumps

WINDOW_S = 10.0

# (path prefix, [(bucket, limit per 10 s), ...]) — first match wins; every request also counts to "general".
RULES: list[tuple[str, list[tuple[str, int]]]] = [
    ("/gamma/markets", [("gamma /markets", 300), ("gamma listing", 900), ("gamma general", 4000)]),
    ("/gamma/events", [("gamma /events", 500), ("gamma listing", 900), ("gamma general", 4000)]),
    ("/gamma", [("gamma general", 4000)]),
    ("/clob/books", [("clob /books", 500), ("clob general", 9000)]),
    ("/clob/book", [("clob /book", 1500), ("clob general", 9000)]),
    ("/clob/prices-history", [("clob /prices-history", 1000), ("clob general", 9000)]),
    ("/clob/batch-prices-history", [("clob /prices-history", 1000), ("clob general", 9000)]),
    ("/clob/prices", [("clob /prices", 500), ("clob general", 9000)]),
    ("/clob/price", [("clob /price", 1500), ("clob general", 9000)]),
    ("/clob/midpoints", [("clob /midpoints", 500), ("clob general", 9000)]),
    ("/clob/midpoint", [("clob /midpoint", 1500), ("clob general", 9000)]),
    ("/clob/tick-size", [("clob tick size", 200), ("clob general", 9000)]),
    ("/clob", [("clob general", 9000)]),
    ("/data/trades", [("data /trades", 200), ("data general", 1000)]),
    ("/data", [("data general", 1000)]),
]
GENERAL = ("general", 15000)


class RateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._windows: dict[str, collections.deque] = collections.defaultdict(collections.deque)

    def buckets(self, path: str) -> list[tuple[str, int]]:
        for prefix, rules in RULES:
            if path == prefix or path.startswith(prefix + "/"):
                return rules + [GENERAL]
        return [GENERAL]

    def reserve(
        self, path: str, mode: str, scale: float = 1.0, window: float = WINDOW_S
    ) -> tuple[float, float | None]:
        """(delay to wait before serving, retry_after if rejected in 429 mode)."""
        now = self._clock()
        slot = now
        rules = self.buckets(path)
        for name, limit in rules:
            limit = max(1, int(limit * scale))
            dq = self._windows[name]
            while dq and dq[0] <= now - window:
                dq.popleft()
            if len(dq) >= limit:
                slot = max(slot, dq[-limit] + window)
        if slot > now and mode == "429":
            return 0.0, max(1.0, math.ceil(slot - now))
        for name, _ in rules:
            self._windows[name].append(slot)
        return slot - now, None


def middleware(
    limiter: RateLimiter, faults, stats, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
):
    @web.middleware
    async def rate_limit_middleware(request: web.Request, handler):
        path = request.path
        if path.startswith(("/control", "/ws")):
            return await handler(request)
        mode = faults["rate_limit_mode"]
        if mode != "off":
            delay, retry_after = limiter.reserve(
                path, mode, faults["rate_limit_scale"], faults["rate_limit_window_s"]
            )
            if retry_after is not None:
                stats.faults["rate_limit_429"] += 1
                return web.Response(
                    status=429,
                    text=dumps({"error": "Too Many Requests"}),
                    content_type="application/json",
                    headers={"Retry-After": str(int(retry_after))},
                )
            if delay > 0:
                stats.faults["rate_limit_delay"] += 1
                await sleep(delay)
        return await handler(request)

    return rate_limit_middleware
