"""Market-channel WS message bodies (polymarket_api.md §4.3): every number a string, timestamps epoch-ms strings."""

from __future__ import annotations

from . import fees
from .fmt import fmt_micro, fmt_milli


def _best_str(v, default: str) -> str:
    return fmt_milli(v) if v is not None else default


def level_diff(prev_levels: list, cur_levels: list) -> list[tuple[int, int]]:
    """(price, new size or 0) for every level whose size changed between two level lists."""
    before = dict(prev_levels)
    after = dict(cur_levels)
    out = []
    for p in sorted(set(before) | set(after)):
        s = after.get(p, 0)
        if before.get(p, 0) != s:
            out.append((p, s))
    return out


def price_change(prev, cur, t_ms: int) -> dict | None:
    """Current-schema price_change with entries for both tokens of the market, or None if nothing changed."""
    entries = []
    for idx in (0, 1):
        pb, pa = prev.levels(idx)
        cb, ca = cur.levels(idx)
        changes = [(p, s, "BUY") for p, s in level_diff(pb, cb)] + [
            (p, s, "SELL") for p, s in level_diff(pa, ca)
        ]
        if not changes:
            continue
        bb, ba = cur.best(idx)
        h = cur.hash(idx)
        tok = cur.token(idx)
        bbs, bas = _best_str(bb, "0"), _best_str(ba, "1")
        for p, s, side in changes:
            entries.append(
                {
                    "asset_id": tok,
                    "price": fmt_milli(p),
                    "size": fmt_micro(s),
                    "side": side,
                    "hash": h,
                    "best_bid": bbs,
                    "best_ask": bas,
                }
            )
    if not entries:
        return None
    return {
        "market": cur.market.condition_id,
        "price_changes": entries,
        "timestamp": str(t_ms),
        "event_type": "price_change",
    }


def noop_price_change(st, t_ms: int) -> dict:
    """A price_change that re-states the best level of each side of both tokens (state unchanged): burst filler."""
    entries = []
    for idx in (0, 1):
        bids, asks = st.levels(idx)
        bb, ba = st.best(idx)
        for levels, side in ((bids, "BUY"), (asks, "SELL")):
            if levels:
                p, s = levels[-1]
                entries.append(
                    {
                        "asset_id": st.token(idx),
                        "price": fmt_milli(p),
                        "size": fmt_micro(s),
                        "side": side,
                        "hash": st.hash(idx),
                        "best_bid": _best_str(bb, "0"),
                        "best_ask": _best_str(ba, "1"),
                    }
                )
    return {
        "market": st.market.condition_id,
        "price_changes": entries,
        "timestamp": str(t_ms),
        "event_type": "price_change",
    }


def tick_size_change(m, token: str, old: int, new: int, t_ms: int) -> dict:
    return {
        "event_type": "tick_size_change",
        "asset_id": token,
        "market": m.condition_id,
        "old_tick_size": fmt_milli(old),
        "new_tick_size": fmt_milli(new),
        "timestamp": str(t_ms),
    }


def best_bid_ask(st, idx: int, t_ms: int) -> dict:
    bb, ba = st.best(idx)
    spread = (ba if ba is not None else 1000) - (bb or 0)
    return {
        "event_type": "best_bid_ask",
        "market": st.market.condition_id,
        "asset_id": st.token(idx),
        "best_bid": _best_str(bb, "0"),
        "best_ask": _best_str(ba, "1"),
        "spread": fmt_milli(spread),
        "timestamp": str(t_ms),
    }


def _event_message(ev) -> dict:
    return {
        "id": str(ev.id),
        "ticker": ev.ticker,
        "slug": ev.slug,
        "title": ev.title,
        "description": ev.description,
    }


def new_market(m, t_ms: int) -> dict:
    body = {
        "id": str(m.gid),
        "question": m.question,
        "market": m.condition_id,
        "slug": m.slug,
        "description": m.description,
        "assets_ids": m.listed_tokens(),
        "outcomes": m.listed_outcomes(),
        "event_message": _event_message(m.event),
        "timestamp": str(t_ms),
        "event_type": "new_market",
        "fees_enabled": m.fees_enabled,
    }
    if m.fees_enabled:
        body["fee_schedule"] = fees.ws_schedule(m)
    return body


def market_resolved(m, t_ms: int) -> dict:
    body = new_market(m, t_ms)
    body["event_type"] = "market_resolved"
    if m.outcome == "YES":
        body["winning_asset_id"], body["winning_outcome"] = m.yes_token, m.outcomes[0]
    elif m.outcome == "NO":
        body["winning_asset_id"], body["winning_outcome"] = m.no_token, m.outcomes[1]
    else:
        body["winning_asset_id"], body["winning_outcome"] = "", ""
    return body
