"""The CLOB REST surface (/clob): books, prices, midpoints, spreads, last trades, price history, markets.

Error statuses (polymarket_api.md §1.4, §2): a missing/non-numeric token id -> 400 {"error":"Invalid token id"};
an unknown token -> 404 {"error":"Invalid token id"}; a token whose market resolved -> 404
{"error":"No orderbook exists for the requested token id"}.
"""

from __future__ import annotations

import base64
import json
import math

from aiohttp import web

from .catalog import INVALID, YES
from .fmt import fmt_milli, iso
from .http_util import error, jresp

NO_BOOK = "No orderbook exists for the requested token id"
MARKETS_PAGE = 500
MAX_HISTORY_WINDOW = 15 * 86400
INTERVALS = {
    "1h": 3600,
    "6h": 6 * 3600,
    "1d": 86400,
    "1w": 7 * 86400,
    "1m": 30 * 86400,
    "max": 31 * 86400,
    "all": 31 * 86400,
}
MIN_FIDELITY = {"1w": 5, "1m": 10}


def fmt_half_milli(v2: int) -> str:
    """A value given as twice its thousandths (e.g. a midpoint) -> decimal string."""
    whole, frac = divmod(v2 * 5, 10_000)
    if frac == 0:
        return str(whole)
    return f"{whole}.{frac:04d}".rstrip("0")


class TokenError(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status, self.message = status, message


def resolve_token(world, token_id, t: float):
    """(market, index, book state) or TokenError."""
    if not token_id or not str(token_id).isdigit():
        raise TokenError(400, "Invalid token id")
    hit = world.catalog.market_by_token(str(token_id), t)
    if hit is None:
        raise TokenError(404, "Invalid token id")
    m, idx = hit
    st = world.state(m, t)
    if st is None:
        raise TokenError(404, NO_BOOK)
    return m, idx, st


def clob_market_object(world, m, t: float) -> dict:
    resolved = t >= m.resolved_at
    if resolved:
        prices = (1, 0) if m.outcome == YES else ((0, 0) if m.outcome == INVALID else (0, 1))
        winners = (m.outcome == YES, m.outcome not in (YES, INVALID))
    else:
        tick_m, bb, ba = world.micro.quote_at(m, int(t * 1000))
        p = round(((bb or 0) + (ba if ba is not None else 1000)) / 2000.0, 4)
        prices = (p, round(1 - p, 4))
        winners = (False, False)
    tick = (tick_m / 1000.0) if not resolved else 0.001
    has_rewards = m.has_rewards
    return {
        "enable_order_book": not resolved,
        "active": True,
        "closed": resolved,
        "archived": False,
        "accepting_orders": (not resolved) or m.accepting_after_close,
        "accepting_order_timestamp": iso(m.start_date - 60),
        "minimum_order_size": 5,
        "minimum_tick_size": tick,
        "condition_id": m.condition_id,
        "question_id": m.question_id,
        "question": m.question,
        "description": m.description,
        "market_slug": m.slug,
        "end_date_iso": iso(m.end_date),
        "game_start_time": None,
        "seconds_delay": 0,
        "fpmm": "",
        "maker_base_fee": 0,
        "taker_base_fee": 0,
        "notifications_enabled": True,
        "neg_risk": m.neg_risk,
        "neg_risk_market_id": m.event.neg_risk_market_id if m.neg_risk else "",
        "neg_risk_request_id": m.neg_risk_request_id,
        "icon": m.image,
        "image": m.image,
        "rewards": {
            "rates": None
            if not has_rewards
            else [{"asset_address": "0x2791Bca1f2de4661ED88A30C99A7a9449Aa84174", "rewards_daily_rate": 30}],
            "min_size": 50,
            "max_spread": 4.5,
        },
        "is_50_50_outcome": False,
        # In listed order, with the ids the market trades under (position ids for a v2 market, §9.6).
        "tokens": [
            {"token_id": m.tokens()[i], "outcome": m.outcomes[i], "price": prices[i], "winner": winners[i]}
            for i in m.listed_order
        ],
        "tags": list(m.tags),
    }


def _cursor_offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        return max(0, int(base64.b64decode(cursor).decode()))
    except Exception as exc:
        raise ValueError("invalid next_cursor") from exc


def _b64(n: int) -> str:
    return base64.b64encode(str(n).encode()).decode()


async def _json_body(request: web.Request):
    try:
        return json.loads(await request.text())
    except ValueError:
        return None


def setup(app: web.Application, world, prefix: str = "/clob", books_batch_max: int = 500) -> None:
    r = app.router

    def _one(request, fn):
        t = world.now()
        try:
            m, idx, st = resolve_token(world, request.query.get("token_id"), t)
        except TokenError as exc:
            return error(exc.status, exc.message)
        return fn(m, idx, st, t)

    async def book(request: web.Request) -> web.Response:
        return _one(request, lambda m, idx, st, t: jresp(world.book_payload(st, idx, "rest")))

    async def books(request: web.Request) -> web.Response:
        body = await _json_body(request)
        if not isinstance(body, list):
            return error(400, 'Invalid payload: expected a JSON array of {"token_id": ...}')
        if len(body) > books_batch_max:
            return error(400, f"Too many token ids: at most {books_batch_max} per request")
        t = world.now()
        out = []
        for item in body:
            tok = item.get("token_id") if isinstance(item, dict) else None
            try:
                _m, idx, st = resolve_token(world, tok, t)
            except TokenError as exc:
                if exc.status == 400:
                    return error(400, exc.message)
                continue
            out.append(world.book_payload(st, idx, "rest"))
        return jresp(out)

    def _side_price(st, idx, side: str) -> str:
        bb, ba = st.best(idx)
        if side == "BUY":
            return fmt_milli(bb) if bb is not None else "0"
        return fmt_milli(ba) if ba is not None else "1"

    async def price(request: web.Request) -> web.Response:
        side = (request.query.get("side") or "").upper()
        if side not in ("BUY", "SELL"):
            return error(400, "Invalid side")
        return _one(request, lambda m, idx, st, t: jresp({"price": _side_price(st, idx, side)}))

    async def prices(request: web.Request) -> web.Response:
        body = await _json_body(request)
        if not isinstance(body, list):
            return error(400, "Invalid payload")
        if len(body) > books_batch_max:
            return error(400, f"Too many token ids: at most {books_batch_max} per request")
        t = world.now()
        out: dict = {}
        for item in body:
            if not isinstance(item, dict):
                return error(400, "Invalid payload")
            side = str(item.get("side", "")).upper()
            if side not in ("BUY", "SELL"):
                return error(400, "Invalid side")
            try:
                _m, idx, st = resolve_token(world, item.get("token_id"), t)
            except TokenError:
                continue
            out.setdefault(item["token_id"], {})[side] = _side_price(st, idx, side)
        return jresp(out)

    def _mid(st, idx) -> str:
        return fmt_half_milli(st.mid_milli2(idx))

    async def midpoint(request: web.Request) -> web.Response:
        return _one(request, lambda m, idx, st, t: jresp({"mid": _mid(st, idx)}))

    async def midpoints(request: web.Request) -> web.Response:
        body = await _json_body(request)
        if not isinstance(body, list):
            return error(400, "Invalid payload")
        if len(body) > books_batch_max:
            return error(400, f"Too many token ids: at most {books_batch_max} per request")
        t = world.now()
        out = {}
        for item in body:
            try:
                _m, idx, st = resolve_token(
                    world, item.get("token_id") if isinstance(item, dict) else None, t
                )
            except TokenError:
                continue
            out[item["token_id"]] = _mid(st, idx)
        return jresp(out)

    def _spread(st, idx) -> str:
        bb, ba = st.best(idx)
        return fmt_milli((ba if ba is not None else 1000) - (bb or 0))

    async def spread(request: web.Request) -> web.Response:
        return _one(request, lambda m, idx, st, t: jresp({"spread": _spread(st, idx)}))

    async def spreads(request: web.Request) -> web.Response:
        body = await _json_body(request)
        if not isinstance(body, list):
            return error(400, "Invalid payload")
        t = world.now()
        out = {}
        for item in body:
            try:
                _m, idx, st = resolve_token(
                    world, item.get("token_id") if isinstance(item, dict) else None, t
                )
            except TokenError:
                continue
            out[item["token_id"]] = _spread(st, idx)
        return jresp(out)

    def _last(m, idx, st) -> dict:
        lt = world.micro.last_trade(m, st.ts_ms)
        if lt is None:
            return {"price": "0", "side": ""}
        p = lt.price if lt.token_index == idx else 1000 - lt.price
        # A trade on the complementary token is the opposite trade on this one.
        side = lt.side if lt.token_index == idx else ("SELL" if lt.side == "BUY" else "BUY")
        return {"price": fmt_milli(p), "side": side}

    async def last_trade_price(request: web.Request) -> web.Response:
        return _one(request, lambda m, idx, st, t: jresp(_last(m, idx, st)))

    async def last_trades_prices(request: web.Request) -> web.Response:
        body = await _json_body(request)
        if not isinstance(body, list):
            return error(400, "Invalid payload")
        t = world.now()
        out = []
        for item in body:
            try:
                m, idx, st = resolve_token(world, item.get("token_id") if isinstance(item, dict) else None, t)
            except TokenError:
                continue
            out.append({"token_id": item["token_id"], **_last(m, idx, st)})
        return jresp(out)

    async def tick_size(request: web.Request) -> web.Response:
        return _one(request, lambda m, idx, st, t: jresp({"minimum_tick_size": st.tick / 1000.0}))

    async def neg_risk(request: web.Request) -> web.Response:
        t = world.now()
        tok = request.query.get("token_id")
        hit = world.catalog.market_by_token(str(tok), t) if tok else None
        if hit is None:
            return error(404, "Invalid token id")
        return jresp({"neg_risk": hit[0].neg_risk})

    async def fee_rate(request: web.Request) -> web.Response:
        return jresp({"base_fee": 0})

    async def server_time(request: web.Request) -> web.Response:
        return web.Response(text=str(int(world.now())), content_type="application/json")

    async def ok(request: web.Request) -> web.Response:
        return jresp("OK")

    def _history_window(m, t: float, start_ts, end_ts, interval, fidelity):
        """Validate a history query: (start, end, fidelity) or an error Response; None window = empty answer."""
        if fidelity < 1:
            return error(400, "invalid filters: 'fidelity' must be positive")
        resolved = t >= m.resolved_at
        if start_ts is not None or end_ts is not None:
            if start_ts is None:
                return error(400, "invalid filters: 'startTs' is required with 'endTs'")
            end_ts = int(t) if end_ts is None else end_ts
            if end_ts - start_ts > MAX_HISTORY_WINDOW:
                return error(400, "invalid filters: 'startTs' and 'endTs' interval is too long")
            if end_ts < start_ts:
                return error(400, "invalid filters: 'startTs' must be before 'endTs'")
        elif interval:
            if interval not in INTERVALS:
                return error(400, f"invalid filters: unknown interval '{interval}'")
            if fidelity < MIN_FIDELITY.get(interval, 1):
                return error(
                    400,
                    f"invalid filters: minimum 'fidelity' for '{interval}' range is {MIN_FIDELITY[interval]}",
                )
            if resolved:
                # Interval queries return nothing for resolved markets (polymarket_api.md §2).
                return None
            end_ts = int(t)
            start_ts = end_ts - INTERVALS[interval]
        else:
            return error(400, "invalid filters: 'interval' or 'startTs'/'endTs' is required")
        if resolved:
            # Resolved markets keep only coarse history (12 h), as on the real API.
            fidelity = max(fidelity, 720)
        return start_ts, end_ts, fidelity

    def _history_points(m, idx: int, t: float, window) -> list:
        """{t, p} every fidelity minutes: p is the token's book midpoint at t (a missing side counts 0 / 1)."""
        if window is None:
            return []
        start_ts, end_ts, fidelity = window
        step = fidelity * 60
        lo = max(start_ts, math.ceil(m.created_at))
        hi = min(end_ts, int(t), int(m.resolved_at) - 1)
        out = []
        if hi >= lo:
            for ts_ in range(((lo + step - 1) // step) * step, hi + 1, step):
                _, bb, ba = world.micro.quote_at(m, ts_ * 1000)
                mid2 = (bb or 0) + (ba if ba is not None else 1000)
                out.append({"t": ts_, "p": (mid2 if idx == 0 else 2000 - mid2) / 2000.0})
                if len(out) >= 20000:
                    break
        return out

    async def prices_history(request: web.Request) -> web.Response:
        t = world.now()
        q = request.query
        tok = q.get("market")
        if not tok:
            return error(400, "invalid filters: 'market' is required")
        hit = world.catalog.market_by_token(tok, t)
        if hit is None:
            return error(400, "invalid filters: market not found")
        m, idx = hit
        try:
            fidelity = int(q.get("fidelity", "1"))
            start_ts = int(q["startTs"]) if q.get("startTs") else None
            end_ts = int(q["endTs"]) if q.get("endTs") else None
        except ValueError:
            return error(400, "invalid filters: startTs, endTs and fidelity must be integers")
        window = _history_window(m, t, start_ts, end_ts, q.get("interval"), fidelity)
        if isinstance(window, web.Response):
            return window
        return jresp({"history": _history_points(m, idx, t, window)})

    async def batch_prices_history(request: web.Request) -> web.Response:
        t = world.now()
        body = await _json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("markets"), list):
            return error(400, 'invalid payload: expected {"markets": [token ids], ...}')
        if len(body["markets"]) > 20:
            return error(400, "invalid filters: at most 20 markets per request")
        try:
            fidelity = int(body.get("fidelity", 1))
            start_ts = int(body["start_ts"]) if body.get("start_ts") is not None else None
            end_ts = int(body["end_ts"]) if body.get("end_ts") is not None else None
        except (TypeError, ValueError):
            return error(400, "invalid filters: start_ts, end_ts and fidelity must be integers")
        out = {}
        for tok in body["markets"]:
            hit = world.catalog.market_by_token(str(tok), t)
            if hit is None:
                return error(400, "invalid filters: market not found")
            window = _history_window(hit[0], t, start_ts, end_ts, body.get("interval"), fidelity)
            if isinstance(window, web.Response):
                return window
            out[str(tok)] = _history_points(hit[0], hit[1], t, window)
        return jresp({"history": out})

    def _markets_page(request, simplified: bool, sampling: bool):
        """The cursor is base64 of an offset, from "MA==" to the end marker "LTE=" (polymarket_api.md §2)."""
        t = world.now()
        offset = _cursor_offset(request.query.get("next_cursor"))
        cat = world.catalog
        n = cat.visible(t)
        pool = cat.markets[:n]
        if sampling:
            pool = [m for m in pool if t < m.resolved_at and m.has_rewards]
        page = pool[offset : offset + MARKETS_PAGE]
        data = []
        for m in page:
            obj = clob_market_object(world, m, t)
            if simplified:
                obj = {
                    k: obj[k]
                    for k in (
                        "condition_id",
                        "rewards",
                        "tokens",
                        "active",
                        "closed",
                        "archived",
                        "accepting_orders",
                    )
                }
            data.append(obj)
        nxt = offset + len(page)
        next_cursor = "LTE=" if nxt >= len(pool) else _b64(nxt)
        return jresp({"limit": MARKETS_PAGE, "count": len(data), "next_cursor": next_cursor, "data": data})

    async def markets(request: web.Request) -> web.Response:
        try:
            return _markets_page(request, False, False)
        except ValueError as exc:
            return error(400, str(exc))

    async def simplified_markets(request: web.Request) -> web.Response:
        try:
            return _markets_page(request, True, False)
        except ValueError as exc:
            return error(400, str(exc))

    async def sampling_markets(request: web.Request) -> web.Response:
        try:
            return _markets_page(request, False, True)
        except ValueError as exc:
            return error(400, str(exc))

    async def market_one(request: web.Request) -> web.Response:
        t = world.now()
        m = world.catalog.by_condition.get(request.match_info["condition_id"])
        if m is None or m.created_at > t:
            return error(404, "market not found")
        return jresp(clob_market_object(world, m, t))

    r.add_get(prefix + "/", ok, name="clob_ok")
    r.add_get(prefix + "/time", server_time, name="clob_time")

    def halts(handler):
        """An order-related endpoint: HTTP 425 while a planned restart halts the matching engine (§9.8)."""

        async def wrapped(request: web.Request) -> web.Response:
            if world.restarts.halted(world.now()):
                world.stats.faults["planned_restart_425"] += 1
                return error(425, "matching engine restarting; retry with backoff")
            return await handler(request)

        return wrapped

    r.add_get(prefix + "/book", halts(book), name="clob_book")
    r.add_post(prefix + "/books", halts(books), name="clob_books")
    r.add_get(prefix + "/price", halts(price), name="clob_price")
    r.add_post(prefix + "/prices", halts(prices), name="clob_prices")
    r.add_get(prefix + "/midpoint", halts(midpoint), name="clob_midpoint")
    r.add_post(prefix + "/midpoints", halts(midpoints), name="clob_midpoints")
    r.add_get(prefix + "/spread", halts(spread), name="clob_spread")
    r.add_post(prefix + "/spreads", halts(spreads), name="clob_spreads")
    r.add_get(prefix + "/last-trade-price", halts(last_trade_price), name="clob_last_trade_price")
    r.add_post(prefix + "/last-trades-prices", halts(last_trades_prices), name="clob_last_trades_prices")
    r.add_get(prefix + "/tick-size", halts(tick_size), name="clob_tick_size")
    r.add_get(prefix + "/neg-risk", neg_risk, name="clob_neg_risk")
    r.add_get(prefix + "/fee-rate", fee_rate, name="clob_fee_rate")
    r.add_get(prefix + "/prices-history", prices_history, name="clob_prices_history")
    r.add_post(prefix + "/batch-prices-history", batch_prices_history, name="clob_batch_prices_history")
    r.add_get(prefix + "/markets", markets, name="clob_markets")
    r.add_get(prefix + "/simplified-markets", simplified_markets, name="clob_simplified_markets")
    r.add_get(prefix + "/sampling-markets", sampling_markets, name="clob_sampling_markets")
    r.add_get(prefix + "/markets/{condition_id}", market_one, name="clob_market")
