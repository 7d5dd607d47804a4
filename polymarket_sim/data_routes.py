"""The Data API surface (/data): GET /trades, newest first, as in polymarket_api.md §5.

Trades are found by walking back in time from now in doubling windows over the selected markets, so a
query touches only the ticks it needs.
"""

from __future__ import annotations

from aiohttp import web

from .http_util import error, integer, jresp, multi
from .trade_render import _trader, data_api_row

MAX_LIMIT = 10_000
MAX_OFFSET = 10_000
DEFAULT_LIMIT = 100


def newest_trades(world, markets, t: float, want: int, keep) -> list:
    """Up to `want` trades at or before t across markets, newest first, filtered by keep(trade)."""
    end_ms = int(t * 1000) + 1
    earliest = min((m.created_at for m in markets), default=t)
    window = 600_000 * min(1.0, 50.0 / max(1, len(markets)))
    window = max(2_000, int(window))
    out: list = []
    while end_ms > earliest * 1000 and len(out) < want:
        start_ms = end_ms - window
        batch = []
        for m in markets:
            if m.created_at * 1000 >= end_ms or m.resolved_at * 1000 <= start_ms:
                continue
            batch.extend(tr for tr in world.micro.trades_between(m, start_ms, end_ms) if keep(tr))
        batch.sort(key=lambda tr: (tr.t_ms, tr.market.gid, tr.seq), reverse=True)
        out.extend(batch)
        end_ms = start_ms
        window = min(window * 2, 6 * 3600_000)
    return out[:want]


def setup(app: web.Application, world, prefix: str = "/data") -> None:
    async def trades(request: web.Request) -> web.Response:
        t = world.now()
        try:
            limit = integer(request, "limit", DEFAULT_LIMIT)
            offset = integer(request, "offset", 0)
        except ValueError:
            return error(400, "invalid limit or offset")
        if offset < 0 or limit < 0:
            return error(400, "limit and offset must be >= 0")
        if offset > MAX_OFFSET:
            return error(400, f"max historical trades offset of {MAX_OFFSET} exceeded")
        limit = min(limit, MAX_LIMIT)
        conds = multi(request, "market")
        cat = world.catalog
        if conds:
            markets = [
                cat.by_condition[c]
                for c in conds
                if c in cat.by_condition and cat.by_condition[c].created_at <= t
            ]
        elif request.query.get("eventId"):
            ev = (
                cat.events_by_id.get(int(request.query["eventId"]))
                if request.query["eventId"].isdigit()
                else None
            )
            markets = [m for m in ev.markets if m.created_at <= t] if ev else []
        else:
            n = cat.visible(t)
            markets = [m for m in cat.markets[:n] if m.resolved_at > t - 3600]
        side = (request.query.get("side") or "").upper()
        user = (request.query.get("user") or "").lower()
        ftype = (request.query.get("filterType") or "").upper()
        famount = request.query.get("filterAmount")
        if (ftype and famount is None) or (famount is not None and not ftype):
            return error(400, "filterType and filterAmount must be used together")
        if ftype and ftype not in ("CASH", "TOKENS"):
            return error(400, "filterType must be CASH or TOKENS")
        amount = float(famount) if famount else 0.0

        def keep(tr) -> bool:
            if side and tr.side != side:
                return False
            if user and _trader(tr.wallet, world.seed)["proxyWallet"] != user:
                return False
            if ftype == "CASH" and tr.notional < amount:
                return False
            return not (ftype == "TOKENS" and tr.size / 1e6 < amount)

        found = newest_trades(world, markets, t, offset + limit, keep) if markets else []
        return jresp([data_api_row(tr, world.seed) for tr in found[offset : offset + limit]])

    app.router.add_get(prefix + "/trades", trades, name="data_trades")
