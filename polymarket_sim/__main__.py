"""CLI: python -m polymarket_sim --port P --markets N --seed S --speed X --faults PROFILE ...

Prints one JSON line with the service URLs once the port is bound, then serves until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import socket
import sys
import time

from aiohttp import web

from .catalog import DEFAULT_NO_YES_SHARE, DEFAULT_V2_SHARE
from .fmt import parse_time
from .pricing import CALIBRATIONS, DEFAULT_MARKET
from .server import build_app
from .world import World


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m polymarket_sim", description=__doc__)
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--markets", type=int, default=200)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--speed", type=float, default=1.0, help="simulated seconds per wall second; 0 = paused")
    p.add_argument("--faults", default="none", help="none | light | heavy")
    p.add_argument(
        "--informed-flow", type=float, default=0.0, help="0..1: how much whale flow predicts outcomes"
    )
    p.add_argument(
        "--market",
        default=DEFAULT_MARKET,
        choices=sorted(CALIBRATIONS),
        help="realistic: a market as hard to beat as Polymarket's (its maker learns from whale flow); "
        "strong: informed flow the price never learns (a pipeline check)",
    )
    p.add_argument("--start", default=None, help="initial simulated time (ISO 8601 or epoch s); default now")
    p.add_argument("--books-batch-max", type=int, default=500)
    p.add_argument("--rate-limit", default="throttle", choices=["throttle", "429", "off"])
    p.add_argument(
        "--ws-idle-timeout", type=float, default=30.0, help="drop a WS client silent this long (s)"
    )
    p.add_argument(
        "--ws-max-assets",
        type=int,
        default=500,
        help="a socket subscribed to more assets silently gets nothing (0 = no cap)",
    )
    p.add_argument(
        "--restarts",
        default="none",
        choices=["none", "weekly"],
        help="planned matching-engine restarts: weekly = Tuesdays 11:00 UTC (more via /control/restart)",
    )
    p.add_argument(
        "--no-yes-share",
        type=float,
        default=DEFAULT_NO_YES_SHARE,
        help='share of Yes/No markets listed as ["No", "Yes"]',
    )
    p.add_argument(
        "--v2-share",
        type=float,
        default=DEFAULT_V2_SHARE,
        help="share of markets created since --v2-since that are Protocol V2 markets (positionIds)",
    )
    p.add_argument(
        "--v2-since",
        default=None,
        help="markets created from then on carry `version` (ISO 8601 or epoch s); default --start",
    )
    p.add_argument("--hang-seconds", type=float, default=None, help="length of a 'hang' fault")
    return p.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    start = parse_time(args.start) if args.start else time.time()
    if not 0.0 <= args.informed_flow <= 1.0:
        raise SystemExit("--informed-flow must be within [0, 1]")
    try:
        world = World(
            args.seed,
            args.markets,
            start,
            args.speed,
            args.informed_flow,
            args.market,
            weekly_restarts=args.restarts == "weekly",
            no_yes_share=args.no_yes_share,
            v2_share=args.v2_share,
            v2_since=parse_time(args.v2_since) if args.v2_since is not None else None,
        )
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    overrides = {"hang_s": args.hang_seconds} if args.hang_seconds is not None else {}
    app = build_app(
        world,
        args.faults,
        args.books_batch_max,
        args.rate_limit,
        args.ws_idle_timeout,
        args.ws_max_assets,
        **overrides,
    )
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    site = web.SockSite(runner, sock, backlog=1024)
    await site.start()
    port = sock.getsockname()[1]
    base = f"http://{args.host}:{port}"
    urls = {
        "PM_GAMMA_URL": f"{base}/gamma",
        "PM_CLOB_URL": f"{base}/clob",
        "PM_DATA_API_URL": f"{base}/data",
        "PM_WS_URL": f"ws://{args.host}:{port}/ws/market",
        "PM_SIM_CONTROL_URL": f"{base}/control",
    }
    sys.stdout.write(json.dumps(urls) + "\n")
    sys.stdout.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def main(argv=None) -> None:
    asyncio.run(_serve(parse_args(argv)))


if __name__ == "__main__":
    main()
