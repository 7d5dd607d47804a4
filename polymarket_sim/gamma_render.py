"""Gamma market and event objects, with the real field set and JSON typing of the gamma_* samples.

Static fields are built once per market and cached; time-dependent fields (prices, volumes, lifecycle flags)
are overlaid per request. Volume figures follow a smooth closed-form curve per market rather than summing the
simulated trade tape (documented in README as a deliberate difference); prices come from the live book.
"""

from __future__ import annotations

import json

from . import fees
from .catalog import INVALID, V2, YES
from .fmt import closed_time, date_only, iso
from .rng import h

SUBMITTER = "0x91430CaD2d3975766499717fA0D66A78D814E5c5"
RESOLVER = "0x65070BE91477460D8A7AeEb94ef92fe056C2f2A7"
USDC = "0x2791Bca1f2de4661ED88A30C99A7a9449Aa84174"
DAY = 86400.0


def _volume(m, t: float) -> float:
    """Cumulative USD volume: grows with tau^1.4 to endDate, then slowly after it."""
    if t <= m.created_at:
        return 0.0
    life = max(1.0, m.end_date - m.created_at)
    tau = (min(t, m.resolved_at) - m.created_at) / life
    if tau <= 1.0:
        return m.volume_scale * tau**1.4
    return m.volume_scale * (1.0 + 0.05 * min(1.0, tau - 1.0))


def _num(x: float, nd: int = 6) -> float:
    return round(x, nd)


def market_static(m) -> dict:
    if m.static is not None:
        return m.static
    ev = m.event
    micros = m.micros_start
    d = {
        "id": str(m.gid),
        "question": m.question,
        "conditionId": m.condition_id,
        "slug": m.slug,
        "resolutionSource": "",
        "endDate": iso(m.end_date),
        "startDate": iso(m.start_date, micros=micros),
        "image": m.image,
        "icon": m.image,
        "description": m.description,
        "outcomes": json.dumps(m.listed_outcomes()),
        "active": True,
        "marketMakerAddress": "",
        "createdAt": iso(m.created_at, micros=True),
        "new": False,
        "featured": False,
        "submitted_by": SUBMITTER,
        "archived": False,
        "resolvedBy": RESOLVER,
        "restricted": True,
        "groupItemTitle": m.group_item_title,
        "groupItemThreshold": m.group_threshold,
        "questionID": m.question_id,
        "enableOrderBook": True,
        "orderMinSize": 5,
        "endDateIso": date_only(m.end_date),
        "startDateIso": date_only(m.start_date),
        "hasReviewedDates": True,
        "umaBond": m.umabond,
        "umaReward": "5",
        "customLiveness": 0,
        "negRisk": m.neg_risk,
        "negRiskRequestID": m.neg_risk_request_id,
        "ready": False,
        "funded": False,
        "acceptingOrdersTimestamp": iso(m.start_date - 60),
        "cyom": False,
        "pagerDutyNotificationEnabled": False,
        "approved": True,
        "rewardsMinSize": 50 if m.kind != "negrisk" else 200,
        "rewardsMaxSpread": 4.5 if m.kind != "negrisk" else 3.5,
        "automaticallyActive": True,
        "clearBookOnStart": True,
        "seriesColor": "",
        "showGmpSeries": False,
        "showGmpOutcome": False,
        "manualActivation": False,
        "negRiskOther": False,
        "pendingDeployment": False,
        "deploying": False,
        "deployingTimestamp": iso(m.created_at + 12.5, micros=True),
        "rfqEnabled": False,
        "holdingRewardsEnabled": False,
        "feesEnabled": m.fees_enabled,
        "requiresTranslation": False,
        "feeType": f"{m.fee_category}_fees" if m.fees_enabled else None,
    }
    d.update(outcome_id_fields(m))
    if m.neg_risk:
        d["negRiskMarketID"] = ev.neg_risk_market_id
    if m.fees_enabled:
        d["feeSchedule"] = fees.gamma_schedule(m)
    if m.kind == "updown":
        d["eventStartTime"] = iso(m.end_date - 300)
    if m.kind == "sports":
        d["gameStartTime"] = closed_time(m.end_date - 3 * 3600)
    if m.has_rewards:
        d["clobRewards"] = [
            {
                "id": str(200_000 + h(m.key, 78) % 200_000),
                "conditionId": m.condition_id,
                "assetAddress": USDC,
                "rewardsAmount": 0,
                "rewardsDailyRate": [1, 5, 30, 100][h(m.key, 79) % 4],
                "startDate": date_only(m.created_at),
                "endDate": "2500-12-31",
            }
        ]
    m.static = d
    return d


def outcome_id_fields(m) -> dict:
    """`version` and the outcome ids (polymarket_api.md §9.6): v1 (and markets from before `version` existed)
    carry `clobTokenIds` as a JSON-encoded string; v2 carry the ids they trade under in `positionIds`, a real
    array, and sometimes a `clobTokenIds` of ids the CLOB does not trade."""
    out: dict = {}
    if m.version is not None:
        out["version"] = m.version
    if m.version == V2:
        out["positionIds"] = m.listed_tokens()
        if m.legacy_tokens:
            out["clobTokenIds"] = json.dumps([m.legacy_tokens[i] for i in m.listed_order])
    else:
        out["clobTokenIds"] = json.dumps(m.listed_tokens())
    return out


def _listed(m, pair: list) -> list:
    return [pair[i] for i in m.listed_order]


def _quote_fields(world, m, t: float) -> dict:
    """bestBid/bestAsk/spread/lastTradePrice/outcomePrices/tick from the live (or final) top of book."""
    live = t < m.resolved_at
    t_ms = int((t if live else m.resolved_at - 0.001) * 1000)
    tick, bb, ba = world.micro.quote_at(m, t_ms)
    lt = world.micro.last_trade(m, t_ms)
    out: dict = {}
    last = (lt.price if lt.token_index == 0 else 1000 - lt.price) / 1000.0 if lt else 0
    out["lastTradePrice"] = last
    # Resolved markets often lose bestBid on Gamma (see the Katana sample); live ones lose it with an empty side.
    if bb is not None and (live or h(m.key, 81) % 2):
        out["bestBid"] = bb / 1000.0
    ask = ba if ba is not None else 1000
    out["bestAsk"] = ask / 1000.0
    spread = (ask - (bb or 0)) / 1000.0
    out["spread"] = round(spread, 4)
    out["orderPriceMinTickSize"] = tick / 1000.0
    if live:
        # Polymarket shows the midpoint, or the last trade when the spread is wider than 10 cents.
        p = ((bb or 0) + ask) / 2000.0 if spread <= 0.10 or not lt else last
        p = round(p, 4)
        out["outcomePrices"] = json.dumps(_listed(m, [_dec(p), _dec(round(1 - p, 4))]))
        # Resting liquidity follows the market's book-depth scale (levels x size x price), not a level sum.
        out["liquidity_usd"] = m.depth * 14.0 * (0.75 + 0.5 * ((h(m.key, int(t) // 3600) >> 11) * 2.0**-53))
    else:
        if m.outcome == YES:
            out["outcomePrices"] = json.dumps(_listed(m, ["1", "0"]))
        elif m.outcome == INVALID:
            out["outcomePrices"] = json.dumps(["0", "0"])
        else:
            out["outcomePrices"] = json.dumps(_listed(m, ["0", "1"]))
        out["liquidity_usd"] = 0.0
    return out


def _dec(x: float) -> str:
    s = f"{x:.4f}".rstrip("0").rstrip(".")
    return s if s else "0"


def market_object(world, m, t: float, embed_events: bool = True) -> dict:
    d = dict(market_static(m))
    state = m.state(t)
    resolved = state == "resolved"
    q = _quote_fields(world, m, t)
    d["outcomePrices"] = q.pop("outcomePrices")
    liq = round(q.pop("liquidity_usd"), 4)
    d.update(q)
    vol = _volume(m, t)
    v24 = vol - _volume(m, t - DAY)
    v1w = vol - _volume(m, t - 7 * DAY)
    v1m = vol - _volume(m, t - 30 * DAY)
    d["volume"] = repr(_num(vol))
    d["volumeNum"] = _num(vol)
    d["volume24hr"] = _num(v24)
    d["volume1wk"] = _num(v1w)
    d["volume1mo"] = _num(v1m)
    d["volume1yr"] = _num(vol)
    d["volumeClob"] = _num(vol)
    d["volume24hrClob"] = _num(v24)
    d["volume1wkClob"] = _num(v1w)
    d["volume1moClob"] = _num(v1m)
    d["volume1yrClob"] = _num(vol)
    if not resolved:
        d["liquidity"] = repr(liq)
        d["liquidityNum"] = liq
        d["liquidityClob"] = liq
    else:
        d["liquidityClob"] = 0
    d["competitive"] = round(max(0.0, 1.0 - 4.0 * d["spread"]), 6) if not resolved else 0
    ref = min(t, m.resolved_at)
    p_now = world.micro.market_yes(m, int(ref * 1000))
    for key, back in (
        ("oneHourPriceChange", 3600.0),
        ("oneDayPriceChange", DAY),
        ("oneWeekPriceChange", 7 * DAY),
        ("oneMonthPriceChange", 30 * DAY),
    ):
        if ref - back >= m.created_at:
            d[key] = round(p_now - world.micro.market_yes(m, int((ref - back) * 1000)), 3)
    d["closed"] = resolved
    d["acceptingOrders"] = (not resolved) or m.accepting_after_close
    d["updatedAt"] = iso(max(m.created_at, t - (h(m.key, int(t) // 60) % 600_000_000) / 1e6), micros=True)
    if state == "proposed" or (state == "stale" and t >= m.proposed_at):
        d["umaResolutionStatus"] = "proposed"
        d["umaResolutionStatuses"] = json.dumps(["proposed"])
    elif resolved:
        d["closedTime"] = closed_time(m.resolved_at)
        d["umaEndDate"] = iso(m.resolved_at)
        d["automaticallyResolved"] = True
        if m.no_uma_status:
            d["umaResolutionStatuses"] = "[]"
        else:
            d["umaResolutionStatus"] = "resolved"
            d["umaResolutionStatuses"] = json.dumps(["proposed"])
    else:
        d["umaResolutionStatuses"] = "[]"
    if embed_events:
        d["events"] = [event_static_fields(world, m.event, t)]
    return d


def event_static(ev) -> dict:
    if ev.static is not None:
        return ev.static
    d = {
        "id": str(ev.id),
        "ticker": ev.ticker,
        "slug": ev.slug,
        "title": ev.title,
        "description": ev.description,
        "resolutionSource": "",
        "startDate": iso(ev.start_date + 0.5, micros=True),
        "creationDate": iso(ev.start_date + 0.4, micros=True),
        "endDate": iso(ev.end_date),
        "image": ev.image,
        "icon": ev.image,
        "active": True,
        "archived": False,
        "new": False,
        "featured": ev.neg_risk and ev.comment_count > 500,
        "restricted": True,
        "openInterest": 0,
        "createdAt": iso(ev.created_at - 0.1, micros=True),
        "enableOrderBook": True,
        "negRisk": ev.neg_risk,
        "commentCount": ev.comment_count,
        "cyom": False,
        "showAllOutcomes": True,
        "showMarketImages": True,
        "enableNegRisk": ev.neg_risk,
        "automaticallyActive": True,
        "negRiskAugmented": ev.neg_risk,
        "pendingDeployment": False,
        "deploying": False,
        "requiresTranslation": False,
    }
    if ev.neg_risk:
        d["negRiskMarketID"] = ev.neg_risk_market_id
        d["sortBy"] = "price"
        d["gmpChartMode"] = "default"
        d["startTime"] = iso(ev.end_date)
    if ev.kind == "updown":
        series_slug = ev.slug.rsplit("-", 1)[0].replace("-updown", "-up-or-down")
        d["startTime"] = iso(ev.end_date - 300)
        d["seriesSlug"] = series_slug
        d["series"] = [
            {
                "id": str(10_000 + h(len(series_slug), ord(series_slug[0]), ord(series_slug[1])) % 900),
                "ticker": series_slug,
                "slug": series_slug,
                "title": ev.title.split(" - ")[0],
                "seriesType": "single",
                "recurrence": "daily",
                "image": "",
                "icon": "",
                "active": True,
                "closed": False,
                "archived": False,
                "featured": False,
                "restricted": True,
                "createdAt": "2025-11-21T21:46:22.201627Z",
                "updatedAt": iso(ev.created_at, micros=True),
                "volume24hr": 0.0,
                "volume": 0.0,
                "liquidity": 0.0,
                "commentCount": 0,
                "requiresTranslation": False,
            }
        ]
    ev.static = d
    return d


def event_static_fields(world, ev, t: float) -> dict:
    d = dict(event_static(ev))
    closed = t >= ev.resolved_at
    vol = sum(_volume(m, t) for m in ev.markets)
    v24 = vol - sum(_volume(m, t - DAY) for m in ev.markets)
    v1w = vol - sum(_volume(m, t - 7 * DAY) for m in ev.markets)
    v1m = vol - sum(_volume(m, t - 30 * DAY) for m in ev.markets)
    liq = 0.0 if closed else round(sum(m.depth * 12.0 for m in ev.markets), 4)
    d.update(
        {
            "closed": closed,
            "liquidity": liq,
            "volume": _num(vol),
            "updatedAt": iso(max(ev.created_at, t - 37.0), micros=True),
            "competitive": 0 if closed else 0.93,
            "volume24hr": _num(v24),
            "volume1wk": _num(v1w),
            "volume1mo": _num(v1m),
            "volume1yr": _num(vol),
            "liquidityClob": liq,
        }
    )
    if closed:
        d["closedTime"] = iso(ev.resolved_at)
    return d


def event_object(world, ev, t: float) -> dict:
    d = event_static_fields(world, ev, t)
    d["markets"] = [market_object(world, m, t, embed_events=False) for m in ev.markets]
    d["tags"] = [
        {
            "id": str(100 + h(len(tag), ord(tag[0])) % 100000),
            "label": tag,
            "slug": tag.lower().replace(" ", "-"),
            "forceShow": False,
            "requiresTranslation": False,
        }
        for tag in ev.tags
    ]
    return d
