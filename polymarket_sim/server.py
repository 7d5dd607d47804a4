"""Assembles the aiohttp application: one port serving /gamma, /clob, /data, /ws/market and /control."""

from __future__ import annotations

import time

from aiohttp import web

from . import clob_routes, control_routes, data_routes, faults, gamma_routes, ratelimit, ws_hub
from .world import World


def build_app(
    world: World,
    fault_profile: str = "none",
    books_batch_max: int = 500,
    rate_limit_mode: str = "throttle",
    ws_idle_timeout: float = 30.0,
    ws_max_assets: int = 500,
    **fault_overrides,
) -> web.Application:
    fault_cfg = faults.FaultConfig(
        fault_profile, seed=world.seed, rate_limit_mode=rate_limit_mode, **fault_overrides
    )
    limiter = ratelimit.RateLimiter()

    @web.middleware
    async def count_requests(request: web.Request, handler):
        route = request.match_info.route
        name = route.name or (route.resource.canonical if route.resource else request.path)
        world.stats.requests[name] += 1
        t0 = time.perf_counter()
        try:
            resp = await handler(request)
        except web.HTTPException:
            raise
        except Exception:
            # A simulator bug must not pass for an injected fault: count it (tests assert zero) and log it.
            world.stats.internal_errors += 1
            raise
        if isinstance(resp, web.Response):
            # Server-Timing lets benchmarks separate server time from client and network time.
            resp.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - t0) * 1000:.2f}"
        return resp

    # Order matters: count every request, then rate-limit it, then maybe inject a fault.
    app = web.Application(
        middlewares=[
            count_requests,
            ratelimit.middleware(limiter, fault_cfg, world.stats),
            faults.middleware(fault_cfg, world.stats),
        ],
        client_max_size=16 * 1024 * 1024,
    )
    app["world"] = world
    app["faults"] = fault_cfg
    gamma_routes.setup(app, world)
    clob_routes.setup(app, world, books_batch_max=books_batch_max)
    data_routes.setup(app, world)
    control_routes.setup(app, world)
    ws_hub.setup(app, world, fault_cfg, idle_timeout=ws_idle_timeout, max_assets=ws_max_assets)
    return app
