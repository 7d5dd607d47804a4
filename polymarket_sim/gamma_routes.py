"""The Gamma surface (/gamma): markets and events, offset and keyset pagination, filters, single lookups.

Mirrors the behaviour in polymarket_api.md §1: bare arrays for offset lists, {"markets"|"events", next_cursor}
for keyset lists (cursor sent back as after_cursor, absent on the last page), the implicit closed=false
(applied even with an id, slug, condition id, token id or position id filter, as documented in 2026, §9.9),
limit clamps, and the 422 beyond offset 2000.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json

from aiohttp import web

from .catalog import V2
from .fmt import parse_time
from .gamma_render import _volume, event_object, market_object
from .http_util import boolean, integer, jresp, multi

MAX_OFFSET = 2000
MARKETS_MAX_LIMIT = 100
EVENTS_MAX_LIMIT = 100
EVENTS_KEYSET_MAX_LIMIT = 500
DEFAULT_LIMIT = 20

DEPRECATION_HEADERS = {
    "deprecation": "true",
    "sunset": "Fri, 01 May 2026 00:00:00 GMT",
    "warning": '299 - "use /markets/keyset"',
    "cache-control": "public, max-age=300",
}


def _validation(msg: str) -> web.Response:
    return jresp({"type": "validation error", "error": msg}, status=422)


# Sort keys accepted by `order` (camelCase and snake_case spellings), as functions of (market, t).
_MARKET_ORDER = {
    "id": lambda m, t: m.gid,
    "volume24hr": lambda m, t: _volume(m, t) - _volume(m, t - 86400),
    "volume": lambda m, t: _volume(m, t),
    "volumeNum": lambda m, t: _volume(m, t),
    "liquidity": lambda m, t: m.depth,
    "liquidityNum": lambda m, t: m.depth,
    "endDate": lambda m, t: m.end_date,
    "startDate": lambda m, t: m.start_date,
    "createdAt": lambda m, t: m.created_at,
    "closedTime": lambda m, t: m.resolved_at,
}
_ALIASES = {
    "volume_24hr": "volume24hr",
    "volume_num": "volumeNum",
    "liquidity_num": "liquidityNum",
    "end_date": "endDate",
    "start_date": "startDate",
    "created_at": "createdAt",
    "closed_time": "closedTime",
}


class MarketQuery:
    """Parsed /markets filters; raises ValueError on invalid input."""

    def __init__(self, request: web.Request, t: float) -> None:
        self.t = t
        self.closed = boolean(request, "closed")
        self.active = boolean(request, "active")
        self.archived = boolean(request, "archived")
        self.ids = {int(x) for x in multi(request, "id")}
        self.slugs = set(multi(request, "slug"))
        self.tokens = set(multi(request, "clob_token_ids"))
        self.positions = set(multi(request, "position_ids"))
        self.conditions = set(multi(request, "condition_ids"))
        self.question_ids = set(multi(request, "question_ids"))
        self.end_min = _t(request, "end_date_min")
        self.end_max = _t(request, "end_date_max")
        self.start_min = _t(request, "start_date_min")
        self.start_max = _t(request, "start_date_max")
        self.vol_min = _f(request, "volume_num_min")
        self.vol_max = _f(request, "volume_num_max")
        self.uma = request.query.get("uma_resolution_status")
        order = request.query.get("order")
        self.order = None
        if order:
            field = order.split(",")[0].strip()
            field = _ALIASES.get(field, field)
            if field in _MARKET_ORDER and field != "id":
                self.order = field
        asc = boolean(request, "ascending")
        self.ascending = True if asc is None else asc

    def candidates(self, catalog, n_visible: int):
        """Markets in id order that could match, using the lookup tables when an identity filter is given."""
        if self.ids or self.slugs or self.tokens or self.positions or self.conditions:
            found = {}
            for i in self.ids:
                m = catalog.by_id.get(i)
                if m:
                    found[m.gid] = m
            for s in self.slugs:
                for m in _by_slug(catalog, s):
                    found[m.gid] = m
            # clob_token_ids finds v1 markets by their CTF token ids, position_ids v2 markets (§9.6, §9.9).
            for tok, want_v2 in [(t, False) for t in self.tokens] + [(t, True) for t in self.positions]:
                hit = catalog.by_token.get(tok)
                if hit and (hit[0].version == V2) == want_v2:
                    found[hit[0].gid] = hit[0]
            for c in self.conditions:
                m = catalog.by_condition.get(c)
                if m:
                    found[m.gid] = m
            ordered = [found[k] for k in sorted(found)]
            return ordered, len(ordered), False
        return catalog.markets, n_visible, True

    def match(self, m) -> bool:
        t = self.t
        if m.created_at > t:
            return False
        closed = t >= m.resolved_at
        want_closed = False if self.closed is None else self.closed
        if closed != want_closed:
            return False
        if self.active is False or self.archived is True:
            return False
        if self.question_ids and m.question_id not in self.question_ids:
            return False
        if self.end_min is not None and m.end_date < self.end_min:
            return False
        if self.end_max is not None and m.end_date > self.end_max:
            return False
        if self.start_min is not None and m.start_date < self.start_min:
            return False
        if self.start_max is not None and m.start_date > self.start_max:
            return False
        if self.vol_min is not None or self.vol_max is not None:
            v = _volume(m, t)
            if self.vol_min is not None and v < self.vol_min:
                return False
            if self.vol_max is not None and v > self.vol_max:
                return False
        if self.uma is not None:
            state = m.state(t)
            status = (
                "resolved"
                if closed and not m.no_uma_status
                else (
                    "proposed" if state in ("proposed",) or (state == "stale" and t >= m.proposed_at) else ""
                )
            )
            if status != self.uma:
                return False
        return True


def _by_slug(catalog, slug):
    m = catalog.by_slug.get(slug)
    return [m] if m else []


def _t(request, key):
    v = request.query.get(key)
    return parse_time(v) if v else None


def _f(request, key):
    v = request.query.get(key)
    return float(v) if v else None


def _limit(request, default: int, cap: int) -> int:
    lim = integer(request, "limit", default)
    if lim < 0:
        raise ValueError("limit must be >= 0")
    return min(lim, cap)


def _encode_cursor(obj) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode_cursor(text: str):
    pad = "=" * (-len(text) % 4)
    return json.loads(base64.urlsafe_b64decode(text + pad))


def _select(q: MarketQuery, catalog, t: float, start_after, limit: int, offset: int = 0):
    """Return (markets page, more_exists). start_after is a (sort_value, gid) key or None."""
    cands, end, indexed = q.candidates(catalog, catalog.visible(t))
    if q.order is None:
        i = 0
        if start_after is not None and indexed:
            i = bisect.bisect_right(catalog.gids, start_after[1], 0, end)
        page, skipped = [], 0
        while i < end:
            m = cands[i]
            i += 1
            if start_after is not None and m.gid <= start_after[1]:
                continue
            if q.match(m):
                if skipped < offset:
                    skipped += 1
                    continue
                if len(page) == limit:
                    return page, True
                page.append(m)
        return page, False
    keyf = _MARKET_ORDER[q.order]
    rows = [(keyf(m, t), m.gid, m) for m in cands[:end] if q.match(m)]
    rows.sort(key=lambda r: (r[0], r[1]), reverse=not q.ascending)
    if start_after is not None:
        key = (start_after[0], start_after[1])
        rows = [r for r in rows if ((r[0], r[1]) > key if q.ascending else (r[0], r[1]) < key)]
    page = rows[offset : offset + limit]
    return [r[2] for r in page], len(rows) > offset + limit


def _sort_value(q: MarketQuery, m, t: float):
    return m.gid if q.order is None else _MARKET_ORDER[q.order](m, t)


def setup(app: web.Application, world, prefix: str = "/gamma") -> None:
    r = app.router

    async def markets(request: web.Request) -> web.Response:
        t = world.now()
        try:
            q = MarketQuery(request, t)
            limit = _limit(request, DEFAULT_LIMIT, MARKETS_MAX_LIMIT)
            offset = integer(request, "offset", 0)
        except (ValueError, TypeError) as exc:
            return _validation(str(exc))
        if offset < 0:
            return _validation("offset must be >= 0")
        if offset > MAX_OFFSET:
            return jresp(
                {
                    "type": "validation error",
                    "error": "offset too large, use /markets/keyset for deeper pagination",
                },
                status=422,
            )
        page, _ = _select(q, world.catalog, t, None, limit, offset)
        return jresp([market_object(world, m, t) for m in page], headers=DEPRECATION_HEADERS)

    async def markets_keyset(request: web.Request) -> web.Response:
        t = world.now()
        if "offset" in request.query:
            return _validation("offset is not supported on keyset endpoints, use after_cursor")
        try:
            q = MarketQuery(request, t)
            limit = _limit(request, DEFAULT_LIMIT, MARKETS_MAX_LIMIT)
            cur = request.query.get("after_cursor")
            start_after = tuple(_decode_cursor(cur)) if cur else None
        except (ValueError, TypeError) as exc:
            return _validation(str(exc))
        except (binascii.Error, UnicodeDecodeError, IndexError):
            return _validation("invalid after_cursor")
        page, more = _select(q, world.catalog, t, start_after, limit)
        body: dict = {"markets": [market_object(world, m, t) for m in page]}
        if more and page:
            body["next_cursor"] = _encode_cursor([_sort_value(q, page[-1], t), page[-1].gid])
        return jresp(body)

    async def market_one(request: web.Request) -> web.Response:
        t = world.now()
        try:
            m = world.catalog.by_id.get(int(request.match_info["id"]))
        except ValueError:
            return _validation("id must be an integer")
        if m is None or m.created_at > t:
            return jresp({"type": "not found error", "error": "market not found"}, status=404)
        return jresp(market_object(world, m, t))

    async def market_slug(request: web.Request) -> web.Response:
        t = world.now()
        m = world.catalog.by_slug.get(request.match_info["slug"])
        if m is None or m.created_at > t:
            return jresp({"type": "not found error", "error": "market not found"}, status=404)
        return jresp(market_object(world, m, t))

    def _event_candidates(request, t):
        """(events in id order, how many of them to consider, wanted closed state, whether ids are indexable)."""
        closed = boolean(request, "closed")
        want_closed = False if closed is None else closed
        ids = {int(x) for x in multi(request, "id")}
        slugs = set(multi(request, "slug"))
        cat = world.catalog
        if ids or slugs:
            found = {cat.events_by_id[i].id: cat.events_by_id[i] for i in ids if i in cat.events_by_id}
            found.update(
                {cat.events_by_slug[s].id: cat.events_by_slug[s] for s in slugs if s in cat.events_by_slug}
            )
            evs = [found[i] for i in sorted(found) if found[i].created_at <= t]
            return evs, len(evs), want_closed, False
        return cat.events, cat.visible_events(t), want_closed, True

    async def events(request: web.Request) -> web.Response:
        t = world.now()
        try:
            limit = _limit(request, DEFAULT_LIMIT, EVENTS_MAX_LIMIT)
            offset = integer(request, "offset", 0)
            evs, end, want_closed, _ = _event_candidates(request, t)
        except (ValueError, TypeError) as exc:
            return _validation(str(exc))
        if offset < 0:
            return _validation("offset must be >= 0")
        if offset > MAX_OFFSET:
            return jresp(
                {
                    "type": "validation error",
                    "error": "offset too large, use /events/keyset for deeper pagination",
                },
                status=422,
            )
        out, skipped = [], 0
        for i in range(end):
            ev = evs[i]
            if (t >= ev.resolved_at) != want_closed:
                continue
            if skipped < offset:
                skipped += 1
                continue
            if len(out) == limit:
                break
            out.append(event_object(world, ev, t))
        return jresp(out)

    async def events_keyset(request: web.Request) -> web.Response:
        t = world.now()
        if "offset" in request.query:
            return _validation("offset is not supported on keyset endpoints, use after_cursor")
        try:
            limit = _limit(request, DEFAULT_LIMIT, EVENTS_KEYSET_MAX_LIMIT)
            evs, end, want_closed, indexed = _event_candidates(request, t)
            cur = request.query.get("after_cursor")
            after = _decode_cursor(cur)[1] if cur else None
        except (ValueError, TypeError) as exc:
            return _validation(str(exc))
        except (binascii.Error, UnicodeDecodeError, IndexError):
            return _validation("invalid after_cursor")
        i = 0
        if after is not None and indexed:
            i = bisect.bisect_right(world.catalog.event_ids, after, 0, end)
        out, more = [], False
        while i < end:
            ev = evs[i]
            i += 1
            if (after is not None and ev.id <= after) or (t >= ev.resolved_at) != want_closed:
                continue
            if len(out) == limit:
                more = True
                break
            out.append(ev)
        body: dict = {"events": [event_object(world, ev, t) for ev in out]}
        if more and out:
            body["next_cursor"] = _encode_cursor([out[-1].id, out[-1].id])
        return jresp(body)

    async def event_one(request: web.Request) -> web.Response:
        t = world.now()
        try:
            ev = world.catalog.events_by_id.get(int(request.match_info["id"]))
        except ValueError:
            return _validation("id must be an integer")
        if ev is None or ev.created_at > t:
            return jresp({"type": "not found error", "error": "event not found"}, status=404)
        return jresp(event_object(world, ev, t))

    async def event_slug(request: web.Request) -> web.Response:
        t = world.now()
        ev = world.catalog.events_by_slug.get(request.match_info["slug"])
        if ev is None or ev.created_at > t:
            return jresp({"type": "not found error", "error": "event not found"}, status=404)
        return jresp(event_object(world, ev, t))

    r.add_get(prefix + "/markets", markets, name="gamma_markets")
    r.add_get(prefix + "/markets/keyset", markets_keyset, name="gamma_markets_keyset")
    r.add_get(prefix + "/markets/slug/{slug}", market_slug, name="gamma_market_slug")
    r.add_get(prefix + "/markets/{id}", market_one, name="gamma_market")
    r.add_get(prefix + "/events", events, name="gamma_events")
    r.add_get(prefix + "/events/keyset", events_keyset, name="gamma_events_keyset")
    r.add_get(prefix + "/events/slug/{slug}", event_slug, name="gamma_event_slug")
    r.add_get(prefix + "/events/{id}", event_one, name="gamma_event")
