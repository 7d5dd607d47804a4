"""The control API (/control): clock, faults, ground truth, stats and WS test hooks. Never faulted.

All times in control responses are epoch seconds (floats) unless a field name ends in _ms; ISO strings are
added only where the name says "iso".
"""

from __future__ import annotations

import json

from aiohttp import web

from .clob_routes import TokenError, resolve_token
from .fmt import iso, parse_time
from .http_util import error, jresp
from .trade_render import truth_row


def market_truth(m, t: float) -> dict:
    resolved = t >= m.resolved_at
    return {
        "gamma_id": str(m.gid),
        "condition_id": m.condition_id,
        "question": m.question,
        "slug": m.slug,
        "outcomes": m.listed_outcomes(),
        "yes_outcome": m.outcomes[0],
        "no_outcome": m.outcomes[1],
        "yes_token_id": m.yes_token,
        "no_token_id": m.no_token,
        "version": m.version,
        "created_at": m.created_at,
        "end_date": m.end_date,
        "proposed_at": m.proposed_at,
        "closed_time": m.resolved_at if resolved else None,
        "resolves_at": m.resolved_at,
        "outcome": m.outcome,
        "state": m.state(t),
        "resolved_at": m.resolved_at if resolved else None,
        "neg_risk": m.neg_risk,
        "event_id": str(m.event.id),
        "group_item_title": m.group_item_title,
        "kind": m.kind,
        "book_tick_ms": m.tick_ms,
        "stale": m.stale,
        "missing_uma_status": m.no_uma_status,
        "accepting_orders_after_close": m.accepting_after_close,
    }


async def _body(request: web.Request) -> dict:
    text = await request.text()
    if not text.strip():
        return {}
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object")  # noqa: TRY004 - callers answer 400 on ValueError
    return data


def setup(app: web.Application, world, prefix: str = "/control") -> None:
    r = app.router

    def clock_body() -> dict:
        t = world.now()
        return {"now": t, "iso": iso(t, micros=True), "speed": world.clock.speed}

    async def get_clock(request: web.Request) -> web.Response:
        return jresp(clock_body())

    async def post_clock(request: web.Request) -> web.Response:
        try:
            body = await _body(request)
            hub = request.app.get("ws_hub")
            if hub is not None:
                await hub.catch_up()
            if "set" in body:
                world.clock.set(parse_time(body["set"]))
            if "advance" in body:
                if float(body["advance"]) < 0:
                    raise ValueError("advance must be >= 0; use set to go back")
                world.clock.advance(float(body["advance"]))
            if "speed" in body:
                world.clock.set_speed(float(body["speed"]))
        except (ValueError, TypeError) as exc:
            return error(400, str(exc))
        world.now()
        hub = request.app.get("ws_hub")
        if hub is not None:
            await hub.catch_up()
        return jresp(clock_body())

    async def get_faults(request: web.Request) -> web.Response:
        return jresp(request.app["faults"].as_dict())

    async def post_faults(request: web.Request) -> web.Response:
        try:
            body = await _body(request)
            request.app["faults"].update(body)
        except (ValueError, TypeError, KeyError) as exc:
            return error(400, str(exc))
        return jresp(request.app["faults"].as_dict())

    async def markets(request: web.Request) -> web.Response:
        t = world.now()
        n = world.catalog.visible(t)
        state = request.query.get("state")
        out = []
        for m in world.catalog.markets[:n]:
            row = market_truth(m, t)
            if state and row["state"] != state:
                continue
            out.append(row)
        return jresp(out)

    async def truth_trades(request: web.Request) -> web.Response:
        t = world.now()
        q = request.query
        try:
            start = parse_time(q["start"]) if q.get("start") else t - 3600.0
            end = parse_time(q["end"]) if q.get("end") else t
        except ValueError as exc:
            return error(400, str(exc))
        end = min(end, t)
        cat = world.catalog
        conds = [c for v in q.getall("condition_ids", []) for c in v.split(",") if c]
        if conds:
            markets = [cat.by_condition[c] for c in conds if c in cat.by_condition]
        else:
            markets = cat.markets[: cat.visible(t)]
        rows = []
        start_ms, end_ms = int(start * 1000), int(end * 1000) + 1
        for m in markets:
            if m.created_at * 1000 >= end_ms or m.resolved_at * 1000 <= start_ms:
                continue
            rows.extend(world.micro.trades_between(m, start_ms, end_ms))
        rows.sort(key=lambda tr: (tr.t_ms, tr.market.gid, tr.seq))
        return jresp([truth_row(tr, world.seed) for tr in rows])

    async def truth_book(request: web.Request) -> web.Response:
        t = world.now()
        ts = request.query.get("ts")
        at = parse_time(ts) if ts else t
        try:
            _m, idx, st = resolve_token(world, request.query.get("token_id"), at)
        except TokenError as exc:
            return error(exc.status, exc.message)
        return jresp(world.book_payload(st, idx, None))

    async def served_books(request: web.Request) -> web.Response:
        tok = request.query.get("token_id")
        rows = [
            {"token_id": a, "ts_ms": b, "hash": c, "source": d, "served_at_wall": e}
            for a, b, c, d, e in list(world.served)
            if tok is None or a == tok
        ]
        limit = request.query.get("limit")
        if limit:
            rows = rows[-int(limit) :]
        return jresp({"ring_size": world.served.maxlen, "entries": rows})

    async def ws_custom_events(request: web.Request) -> web.Response:
        """Every custom event the hub dispatched, with when it went out and when its tokens were first subscribed."""
        hub = _hub(request)
        cat = world.catalog
        rows = []
        for event_type, cid, t_ms, sent_wall in list(hub.custom_sent):
            m = cat.by_condition.get(cid)
            subs = [hub.first_subscribed.get(tok) for tok in m.tokens()] if m is not None else []
            rows.append(
                {
                    "event_type": event_type,
                    "condition_id": cid,
                    "timestamp_ms": t_ms,
                    "sent_wall": sent_wall,
                    "outcome": m.outcome if m is not None else None,
                    "first_subscribed_wall": max(subs) if subs and None not in subs else None,
                }
            )
        return jresp(rows)

    async def post_restart(request: web.Request) -> web.Response:
        """Schedule a planned restart: {"start": time} or {"in_s": simulated seconds from now}."""
        try:
            body = await _body(request)
            start = (
                parse_time(body["start"]) if "start" in body else world.now() + float(body.get("in_s", 120))
            )
            return jresp(world.schedule_restart(start))
        except (ValueError, TypeError, KeyError) as exc:
            return error(400, str(exc))

    async def get_restarts(request: web.Request) -> web.Response:
        t = world.now()
        q = request.query
        try:
            start = parse_time(q["start"]) if q.get("start") else t - 7 * 86400.0
            end = parse_time(q["end"]) if q.get("end") else t + 7 * 86400.0
        except ValueError as exc:
            return error(400, str(exc))
        return jresp(world.restarts.windows(start, end))

    async def stats(request: web.Request) -> web.Response:
        return jresp(world.stats.as_dict())

    def _hub(request):
        hub = request.app.get("ws_hub")
        if hub is None:
            raise web.HTTPServiceUnavailable(
                text='{"error":"websocket hub not running"}', content_type="application/json"
            )
        return hub

    async def ws_disconnect_all(request: web.Request) -> web.Response:
        n = await _hub(request).disconnect_all()
        return jresp({"disconnected": n})

    async def ws_freeze(request: web.Request) -> web.Response:
        body = await _body(request)
        seconds = float(body.get("seconds", 10))
        _hub(request).freeze(seconds)
        return jresp({"frozen_for_s": seconds})

    async def ws_burst(request: web.Request) -> web.Response:
        body = await _body(request)
        n = int(body.get("n", 1000))
        result = await _hub(request).burst(n)
        return jresp(result)

    r.add_get(prefix + "/clock", get_clock)
    r.add_post(prefix + "/clock", post_clock)
    r.add_get(prefix + "/faults", get_faults)
    r.add_post(prefix + "/faults", post_faults)
    r.add_get(prefix + "/markets", markets)
    r.add_get(prefix + "/truth/trades", truth_trades)
    r.add_get(prefix + "/truth/book", truth_book)
    r.add_get(prefix + "/truth/served_books", served_books)
    r.add_get(prefix + "/stats", stats)
    r.add_post(prefix + "/restart", post_restart)
    r.add_get(prefix + "/restarts", get_restarts)
    r.add_get(prefix + "/truth/ws_custom_events", ws_custom_events)
    r.add_post(prefix + "/ws/disconnect_all", ws_disconnect_all)
    r.add_post(prefix + "/ws/freeze", ws_freeze)
    r.add_post(prefix + "/ws/burst", ws_burst)
