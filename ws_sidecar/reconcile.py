"""Zero loss: which Data API trades are missing from what the recorder has, and nothing else.

The two feeds describe one trade differently:

=================  ===============================  ============================================
                   WS ``last_trade_price``          Data API ``/trades``
=================  ===============================  ============================================
time               epoch **ms** (match time)        epoch **s** (may lag the match by seconds)
identity           none (no trade id, no tx hash)   ``transactionHash`` (not unique: one tx fills
                                                    several orders)
=================  ===============================  ============================================

So the recorder never tries to give both the same id. It reconciles per market over a window:

1. Each Data API trade gets a stable uid from the §5 key (transactionHash, asset, side, size, price,
   timestamp) plus its occurrence number among identical keys, so fetching the same window twice yields the
   same uids and a trade already backfilled is recognised exactly.
2. Every other Data API trade must be *explained* by one recorded WS trade with the same (asset, side, size,
   price) whose ms timestamp lies within ``tolerance`` of its second. Matching is one-to-one (a multiset), so
   two identical trades in one second need two recorded ones, and it is a maximum matching, so a trade is
   called missing only when no assignment of recorded trades could explain it.
3. Whatever is left was printed by the exchange and not recorded: it is emitted as a ``data_api`` row.

Only Data API trades inside the window are emitted, but matching also sees recorded trades (and Data API
trades) up to ``tolerance`` beyond either edge, so a trade on the boundary is never counted twice. The window
must end far enough in the past (``settle``) that the WS has delivered everything it is going to deliver.
"""

from __future__ import annotations

import hashlib
import threading
from bisect import bisect_left, bisect_right, insort
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from polymarket_assets.lib.parse_trades import Trade, trade_dedup_key


def _r(x: float) -> float:
    # Both feeds carry the same decimals; rounding removes any float noise from different parsings.
    return round(x, 6)


@dataclass(frozen=True)
class Recorded:
    ts_ms: int
    asset_id: str
    side: str
    size: float
    price: float
    uid: str
    source: str  # "ws" or "data_api"

    @property
    def match_key(self) -> tuple:
        return (self.asset_id, self.side, _r(self.size), _r(self.price))


def api_uid(trade: Trade, occurrence: int) -> str:
    key = trade_dedup_key(trade)
    text = "|".join(str(v) for v in (*key[:3], _r(key[3]), _r(key[4]), key[5], occurrence))
    return "api-" + hashlib.sha1(text.encode()).hexdigest()[:24]


def with_uids(trades: Iterable[Trade]) -> list[tuple[Trade, str]]:
    """Each trade with its uid; identical §5 keys are numbered in a canonical order."""
    seen: dict[tuple, int] = defaultdict(int)
    out = []
    for trade in sorted(
        trades, key=lambda t: (t.timestamp, t.asset_id, t.side, t.size, t.price, t.transaction_hash or "")
    ):
        key = trade_dedup_key(trade)
        key = (key[0], key[1], key[2], _r(key[3]), _r(key[4]), key[5])
        out.append((trade, api_uid(trade, seen[key])))
        seen[key] += 1
    return out


def missing_trades(
    recorded: Iterable[Recorded],
    api_trades: Iterable[Trade],
    start_ms: int,
    end_ms: int,
    tolerance_ms: int = 5000,
) -> list[tuple[Trade, str]]:
    """Data API trades with timestamps in [start_ms, end_ms] that nothing recorded explains, with their uids."""
    recorded = list(recorded)
    api_uids = {r.uid for r in recorded if r.source == "data_api"}
    candidates: dict[tuple, list[int]] = defaultdict(list)
    for r in recorded:
        if r.source == "ws":
            candidates[r.match_key].append(r.ts_ms)
    for values in candidates.values():
        values.sort()

    pending: list[tuple[Trade, str]] = []
    for trade, uid in with_uids(api_trades):
        if uid in api_uids:
            continue
        pending.append((trade, uid))

    # Per match key, a maximum one-to-one matching of Data API trades (each acceptable for recorded WS trades
    # in [second - tolerance, second + 999 + tolerance]) to recorded WS timestamps: take the intervals by
    # increasing right end and give each the earliest free timestamp inside it. This greedy is optimal for
    # points-in-intervals, so no trade is declared missing while a consistent explanation exists.
    by_key: dict[tuple, list[tuple[Trade, str]]] = defaultdict(list)
    for trade, uid in pending:
        by_key[(trade.asset_id, trade.side, _r(trade.size), _r(trade.price))].append((trade, uid))
    out = []
    for key, group in by_key.items():
        values = candidates.get(key, [])
        group.sort(key=lambda item: (item[0].timestamp, item[1]))
        for trade, uid in group:
            second = trade.timestamp * 1000
            i = bisect_left(values, second - tolerance_ms)
            if i < len(values) and values[i] <= second + 999 + tolerance_ms:
                values.pop(i)
                continue
            if start_ms <= second + 999 and second <= end_ms:
                out.append((trade, uid))
    out.sort(key=lambda item: (item[0].timestamp, item[1]))
    return out


class TradeIndex:
    """Recently recorded trades per market (WS and backfilled), for reconciliation. Thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self._by_market: dict[str, list[tuple]] = defaultdict(list)

    def add(
        self,
        condition_id: str,
        ts_ms: int,
        asset_id: str,
        side: str,
        size: float,
        price: float,
        uid: str,
        source: str = "ws",
    ) -> None:
        entry = (ts_ms, asset_id, side, size, price, uid, source)
        with self._lock:
            entries = self._by_market[condition_id]
            if not entries or entries[-1][0] <= ts_ms:
                entries.append(entry)
            else:
                insort(entries, entry)

    def window(self, condition_ids: Iterable[str], start_ms: int, end_ms: int) -> dict[str, list[Recorded]]:
        out: dict[str, list[Recorded]] = {}
        with self._lock:
            for cid in condition_ids:
                entries = self._by_market.get(cid)
                if not entries:
                    out[cid] = []
                    continue
                i = bisect_left(entries, (start_ms,))
                j = bisect_right(entries, (end_ms, "\uffff"))
                out[cid] = [Recorded(*e) for e in entries[i:j]]
        return out

    def prune(self, before_ms: int) -> int:
        removed = 0
        with self._lock:
            for cid in list(self._by_market):
                entries = self._by_market[cid]
                i = bisect_left(entries, (before_ms,))
                if i:
                    del entries[:i]
                    removed += i
                if not entries:
                    del self._by_market[cid]
        return removed

    def __len__(self) -> int:
        with self._lock:
            return sum(len(v) for v in self._by_market.values())
