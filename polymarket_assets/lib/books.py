"""Order books: ``parse_book`` (REST ``/book``, ``/books`` and WS ``book`` payloads) and ``book_metrics``.

Polymarket sends bids ascending and asks descending, so the best prices are the *last* entries, while some
docs claim the opposite. Nothing here depends on level order: best bid = max(bid prices), best ask =
min(ask prices), and depth is counted from those.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any

from polymarket_assets.lib.errors import ParseError
from polymarket_assets.lib.parse_common import (
    _DECIMAL,
    to_bool,
    to_condition_id,
    to_epoch_ms,
    to_nonneg,
    to_price,
    to_str,
    to_token_id,
)

Level = tuple[float, float]  # (price, size)

# Float slack for "within 1¢ of mid": 0.515 - 0.01 is 0.5049999999999999 in binary floating point.
_EPS = 1e-9


@dataclass(frozen=True)
class Book:
    market: str
    asset_id: str
    timestamp_ms: int
    hash: str | None
    bids: tuple[Level, ...]  # as given by the server (ascending in practice)
    asks: tuple[Level, ...]  # as given by the server (descending in practice)
    tick_size: float | None = None
    min_order_size: float | None = None
    neg_risk: bool | None = None
    last_trade_price: float | None = None


def _levels_fast(raw: list) -> tuple[Level, ...] | None:
    """The bulk case, with the per-level work done by C loops: every level an object whose price and size are
    plain decimal strings, prices within [0, 1], sizes finite and non-negative. None for anything else, which
    ``_levels`` then parses level by level (numbers, padded strings) or rejects with the precise reason."""
    if not all(map(isinstance, raw, repeat(dict))):
        return None
    try:
        prices = [level["price"] for level in raw]
        sizes = [level["size"] for level in raw]
    except KeyError:
        return None
    if set(map(type, prices)) != {str} or set(map(type, sizes)) != {str}:
        return None
    if not all(map(_DECIMAL.fullmatch, prices)) or not all(map(_DECIMAL.fullmatch, sizes)):
        return None
    price_values = list(map(float, prices))
    size_values = list(map(float, sizes))
    if (
        min(price_values) < 0.0
        or max(price_values) > 1.0
        or min(size_values) < 0.0
        or max(size_values) == math.inf
    ):
        return None
    return tuple(zip(price_values, size_values))


def _levels(raw: Any, side: str) -> tuple[Level, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ParseError(f"{side} is not a list")
    if not raw:
        return ()
    fast = _levels_fast(raw)
    if fast is not None:
        return fast
    out = []
    for level in raw:
        if not isinstance(level, dict):
            raise ParseError(f"{side} level is not an object")
        price = to_price(level.get("price"), f"{side}.price", required=True)
        size = to_nonneg(level.get("size"), f"{side}.size", required=True)
        out.append((price, size))
    return tuple(out)


def parse_book(obj: dict) -> Book:
    """Parse a book payload; accepts short decimals such as ``".48"`` and ignores unknown keys."""
    if not isinstance(obj, dict):
        raise ParseError(f"book must be an object, got {type(obj).__name__}")
    tick = obj.get("tick_size")
    tick_size = to_price(tick, "tick_size")
    if tick_size is not None and tick_size <= 0:
        raise ParseError("tick_size must be > 0")
    return Book(
        market=to_condition_id(obj.get("market"), "market"),
        asset_id=to_token_id(obj.get("asset_id"), "asset_id"),
        timestamp_ms=to_epoch_ms(obj.get("timestamp"), "timestamp"),
        hash=to_str(obj.get("hash"), "hash"),
        bids=_levels(obj.get("bids"), "bids"),
        asks=_levels(obj.get("asks"), "asks"),
        tick_size=tick_size,
        min_order_size=to_nonneg(obj.get("min_order_size"), "min_order_size"),
        neg_risk=to_bool(obj.get("neg_risk"), "neg_risk"),
        last_trade_price=to_price(obj.get("last_trade_price"), "last_trade_price"),
    )


def _aggregate(levels: Iterable[Level]) -> dict[float, float]:
    """Size per price, ignoring empty levels (a zero size is a deletion, not liquidity)."""
    positive = [level for level in levels if level[1] > 0]
    unique = dict(positive)
    if len(unique) == len(positive):
        return unique  # every price once (the usual book): the sum of one size is that size
    sizes: dict[float, list[float]] = defaultdict(list)
    for price, size in positive:
        sizes[price].append(size)
    # fsum is exactly rounded, so the result cannot depend on the order the levels arrived in.
    return {price: math.fsum(parts) for price, parts in sizes.items()}


def _band_key(band: float) -> str:
    return f"{band * 100:g}c"


def _wall(sorted_levels: Sequence[Level]) -> Level | None:
    """Largest level on a side; on a tie the one nearest the best price wins (levels are best-first)."""
    if not sorted_levels:
        return None
    best = sorted_levels[0]
    for level in sorted_levels[1:]:
        if level[1] > best[1]:
            best = level
    return best


def book_metrics(book: Book, depth_levels: int = 5, bands: Sequence[float] = (0.01, 0.05)) -> dict[str, Any]:
    """Top-of-book and depth numbers for one book. None where undefined (e.g. no mid with an empty side).

    ``bid_depth``/``ask_depth``: total size of the ``depth_levels`` best price levels (0.0 for an empty side).
    ``bid_depth_<n>c``: bid size priced within ``band`` below mid (asks: above); None without a mid.
    ``imbalance``: (bid_depth - ask_depth) / (bid_depth + ask_depth).
    ``*_wall_distance``: how far the largest level sits from mid (positive away from mid).
    """
    bid_sizes = _aggregate(book.bids)
    ask_sizes = _aggregate(book.asks)
    bids = sorted(bid_sizes.items(), key=lambda level: -level[0])  # best (highest) first
    asks = sorted(ask_sizes.items(), key=lambda level: level[0])  # best (lowest) first

    best_bid = bids[0][0] if bids else None
    best_ask = asks[0][0] if asks else None
    mid = (best_bid + best_ask) / 2 if bids and asks else None
    spread = best_ask - best_bid if bids and asks else None

    bid_depth = math.fsum(size for _, size in bids[:depth_levels])
    ask_depth = math.fsum(size for _, size in asks[:depth_levels])
    total = bid_depth + ask_depth

    out: dict[str, Any] = {
        "best_bid": best_bid,
        "best_ask": best_ask,
        "mid": mid,
        "spread": spread,
        "bid_levels": len(bids),
        "ask_levels": len(asks),
        "bid_depth": bid_depth,
        "ask_depth": ask_depth,
        "imbalance": (bid_depth - ask_depth) / total if total > 0 else None,
    }
    for band in bands:
        key = _band_key(band)
        if mid is None:
            out[f"bid_depth_{key}"] = None
            out[f"ask_depth_{key}"] = None
        else:
            out[f"bid_depth_{key}"] = math.fsum(s for p, s in bids if p >= mid - band - _EPS)
            out[f"ask_depth_{key}"] = math.fsum(s for p, s in asks if p <= mid + band + _EPS)

    for side, levels, sign in (("bid", bids, 1.0), ("ask", asks, -1.0)):
        wall = _wall(levels)
        out[f"{side}_wall_price"] = wall[0] if wall else None
        out[f"{side}_wall_size"] = wall[1] if wall else None
        out[f"{side}_wall_distance"] = sign * (mid - wall[0]) if wall and mid is not None else None
    return out
