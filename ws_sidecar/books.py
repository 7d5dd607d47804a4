"""One local order book per token, kept from WS snapshots and level changes and checked against the server.

Level order on the wire is irrelevant here: a side is a ``{price: size}`` map, best bid = max(bids), best ask =
min(asks). The server's own convention for an empty side is ``best_bid "0"`` / ``best_ask "1"``, which is
what ``top()`` returns for comparison.
"""

from __future__ import annotations

_EPS = 1e-9


class LocalBook:
    __slots__ = (
        "asks",
        "asset_id",
        "bids",
        "checked_us",
        "hash",
        "market",
        "rest_ts_ms",
        "synced",
        "tick_size",
        "ts_ms",
    )

    def __init__(self, asset_id: str, market: str | None = None):
        self.asset_id = asset_id
        self.market = market
        self.bids: dict[float, float] = {}
        self.asks: dict[float, float] = {}
        self.hash: str | None = None
        self.ts_ms = 0  # exchange timestamp of the newest state applied
        # Set when a REST book was applied: WS changes stamped at or before it are already part of it.
        self.rest_ts_ms = -1
        self.tick_size: float | None = None
        self.checked_us = 0  # receive time of the last update after which the book was verified
        self.synced = False

    def replace(
        self, bids, asks, hash_: str | None, ts_ms: int, tick_size: float | None, *, rest: bool
    ) -> None:
        self.bids = {p: s for p, s in bids if s > 0}
        self.asks = {p: s for p, s in asks if s > 0}
        self.hash = hash_
        self.ts_ms = ts_ms
        self.rest_ts_ms = ts_ms if rest else -1
        if tick_size is not None:
            self.tick_size = tick_size
        self.synced = True

    def apply(self, side: str, price: float, size: float) -> None:
        levels = self.bids if side == "BUY" else self.asks
        if size > 0:
            levels[price] = size
        else:
            levels.pop(price, None)

    def best_bid(self) -> float | None:
        return max(self.bids) if self.bids else None

    def best_ask(self) -> float | None:
        return min(self.asks) if self.asks else None

    def top(self) -> tuple[float, float]:
        """(best bid or 0, best ask or 1): the server's spelling of an empty side."""
        return (max(self.bids) if self.bids else 0.0, min(self.asks) if self.asks else 1.0)

    def agrees_with(self, best_bid: float | None, best_ask: float | None) -> bool:
        bid, ask = self.top()
        bid_ok = best_bid is None or abs(bid - best_bid) <= _EPS
        return bid_ok and (best_ask is None or abs(ask - best_ask) <= _EPS)

    def levels(self) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
        """(bids best first, asks best first)."""
        return sorted(self.bids.items(), reverse=True), sorted(self.asks.items())

    def same_levels(self, bids, asks) -> bool:
        return self.bids == {p: s for p, s in bids if s > 0} and self.asks == {p: s for p, s in asks if s > 0}


def compare_with_rest(book: LocalBook, rest_hash: str | None, rest_ts_ms: int, rest_bids, rest_asks) -> str:
    """Verdict of one REST book against the local one: ``ok``, ``mismatch`` or ``inconclusive``.

    The hash formula is the server's, so hashes are only compared with hashes the server sent: the same hash
    means the same state (then the levels must be equal); a different hash on a REST state that is not newer
    than the last update we applied means we missed or misapplied something. A newer REST state proves
    nothing (its update may still be in flight).
    """
    if not book.synced:
        return "mismatch"
    if rest_hash is not None and rest_hash == book.hash:
        return "ok" if book.same_levels(rest_bids, rest_asks) else "mismatch"
    if rest_ts_ms <= book.ts_ms:
        return "mismatch"
    return "inconclusive"
