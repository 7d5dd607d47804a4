"""Fee Structure V2 in the simulated world (polymarket_api.md §9.7): each market's category and its schedule.

Taker rates by category as the 2026 fees page gives them (geopolitics is fee-free); `exponent` is 1 and
`takerOnly` true everywhere, as on every observed schedule. The same schedule is served by Gamma
(`feeSchedule`, camelCase), the websocket's `new_market` (`fee_schedule`, snake_case) and the trade feed
(`last_trade_price.fee_rate_bps`).
"""

from __future__ import annotations

# category -> (taker rate, maker rebate share)
CATEGORY_RATES = {
    "crypto": (0.07, 0.20),
    "sports": (0.03, 0.25),
    "finance": (0.04, 0.25),
    "politics": (0.04, 0.25),
    "tech": (0.04, 0.25),
    "geopolitics": (0.0, 0.0),
}
_BY_TAG = (
    ("Geopolitics", "geopolitics"),
    ("Sports", "sports"),
    ("Finance", "finance"),
    ("Tech", "tech"),
    ("Politics", "politics"),
)


def fee_category(kind: str, tags) -> str:
    if kind == "updown":
        return "crypto"
    for tag, category in _BY_TAG:
        if tag in tags:
            return category
    return "politics"


def rate(m) -> float:
    return CATEGORY_RATES[m.fee_category][0] if m.fees_enabled else 0.0


def gamma_schedule(m) -> dict:
    r, rebate = CATEGORY_RATES[m.fee_category]
    return {"exponent": 1, "rate": r, "takerOnly": True, "rebateRate": rebate}


def ws_schedule(m) -> dict:
    r, rebate = CATEGORY_RATES[m.fee_category]
    return {"exponent": 1, "rate": r, "taker_only": True, "rebate_rate": rebate}


def fee_rate_bps(m) -> str:
    return str(round(rate(m) * 10_000))
