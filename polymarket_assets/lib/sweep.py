"""One snapshot sweep, without Dagster: which markets a tier sweeps at an instant, and their rows.

Book tiers use batched `POST /books` for both tokens and compute the metrics from the books (best bid =
max of bids, best ask = min of asks, never by position). Price tiers use batched `POST /prices` and
`POST /midpoints`. Every selected market gets exactly one row per scheduled instant: a market whose book
is gone is written with `book_status='no_orderbook'`, one whose request failed is counted as not captured.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from polymarket_assets.lib.books import book_metrics, parse_book
from polymarket_assets.lib.errors import ApiError, ParseError
from polymarket_assets.lib.tiers import DEFAULT_PLAN, TierPlan, TierSpec, assign_tier, hours_to_close

CONTEXT_COLUMNS = ("volume_24h", "liquidity", "one_day_price_change", "one_week_price_change")
METRIC_COLUMNS = (
    "best_bid",
    "best_ask",
    "mid",
    "spread",
    "bid_depth",
    "ask_depth",
    "bid_depth_1c",
    "ask_depth_1c",
    "bid_depth_5c",
    "ask_depth_5c",
    "imbalance",
    "bid_wall_price",
    "bid_wall_size",
    "bid_wall_distance",
    "ask_wall_price",
    "ask_wall_size",
    "ask_wall_distance",
)


def select_markets(current: list[dict], tier: str, instant: datetime, plan: TierPlan = DEFAULT_PLAN) -> list[dict]:
    """Open binary markets (both tokens known) whose tier at `instant` is `tier`."""
    return [
        row
        for row in current
        if row.get("discovery_status") == "open"
        and row.get("yes_token_id")
        and row.get("no_token_id")
        and assign_tier(row.get("end_date"), instant, plan) == tier
    ]


@dataclass
class SweepResult:
    rows: list[dict] = field(default_factory=list)
    orderbooks: list[dict] = field(default_factory=list)
    raw: list[tuple[str, object, object]] = field(default_factory=list)
    failed_condition_ids: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _f(value) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _base_row(market: dict, tier: TierSpec, slot_ts: datetime, captured_at: datetime, source: str) -> dict:
    row = {
        "condition_id": market["condition_id"],
        "tier": tier.name,
        "slot_ts": slot_ts,
        "captured_at": captured_at,
        "lag_s": (captured_at - slot_ts).total_seconds(),
        "source": source,
        "yes_token_id": market["yes_token_id"],
        "no_token_id": market["no_token_id"],
        "hours_to_close": hours_to_close(market.get("end_date"), slot_ts),
    }
    for column in CONTEXT_COLUMNS:
        row[column] = market.get(column)
    return row


def _levels(levels) -> list[dict]:
    return [{"price": p, "size": s} for p, s in levels]


def sweep_books(clob, markets: list[dict], tier: TierSpec, slot_ts: datetime, captured_at: datetime, quarantine,
                batch_size: int = 100, max_workers: int = 4, known_without_book: set[str] | None = None) -> SweepResult:
    """One books sweep. `known_without_book` (shared by the sweeps of one run) remembers tokens whose book is
    confirmed gone, so each is confirmed with a single `GET /book` per run rather than per sweep."""
    result = SweepResult()
    if not markets:
        return result
    tokens = [t for m in markets for t in (m["yes_token_id"], m["no_token_id"])]
    answer = clob.get_books(tokens, batch_size=batch_size, max_workers=max_workers)
    result.raw.append(("/books", {"tokens": len(tokens)}, answer.books))
    books: dict[str, object] = {}
    refetch: list[str] = list(answer.missing_token_ids)
    for obj in answer.books:
        try:
            book = parse_book(obj)
        except ParseError as exc:
            quarantine.add(str(exc), obj, {"endpoint": "/books", "slot_ts": slot_ts.isoformat()})
            # The bad record is kept in quarantine; the token gets one more chance on its own.
            if isinstance(obj, dict) and obj.get("asset_id"):
                refetch.append(str(obj["asset_id"]))
            continue
        books[book.asset_id] = book
    known = known_without_book if known_without_book is not None else set()
    no_book: set[str] = {t for t in answer.missing_token_ids if t in known}
    for token in refetch:
        if token in no_book or token in books:
            continue
        # Asked and answered, but no book: confirm one by one (a closed market has no order book any more).
        try:
            obj = clob.get_book(token)
            books[token] = parse_book(obj)
        except ParseError as exc:
            quarantine.add(str(exc), {"token_id": token}, {"endpoint": "/book"})
        except ApiError as exc:
            if getattr(exc, "status", None) in (400, 404) or "orderbook" in str(exc).lower():
                no_book.add(token)
                known.add(token)
            else:
                result.errors.append(f"/book {token}: {exc}")
    failed = set(answer.failed_token_ids)
    result.errors.extend(str(e) for e in answer.errors)

    for market in markets:
        yes, no = market["yes_token_id"], market["no_token_id"]
        if yes in failed or no in failed or (yes not in books and yes not in no_book):
            result.failed_condition_ids.append(market["condition_id"])
            continue
        row = _base_row(market, tier, slot_ts, captured_at, "books")
        yes_book, no_book_obj = books.get(yes), books.get(no)
        if yes_book is None:
            row["book_status"] = "no_orderbook"
            result.rows.append(row)
            continue
        metrics = book_metrics(yes_book)
        for column in METRIC_COLUMNS:
            row[column] = metrics.get(column)
        row["last_trade_price"] = yes_book.last_trade_price
        row["book_hash"] = yes_book.hash
        row["book_ts"] = datetime.fromtimestamp(yes_book.timestamp_ms / 1000, tz=timezone.utc) if yes_book.timestamp_ms else None
        if no_book_obj is not None:
            no_metrics = book_metrics(no_book_obj)
            row["no_best_bid"], row["no_best_ask"], row["no_mid"] = (
                no_metrics.get("best_bid"), no_metrics.get("best_ask"), no_metrics.get("mid"))
        row["book_status"] = "ok" if no_book_obj is not None else "partial"
        result.rows.append(row)
        for token, book in ((yes, yes_book), (no, no_book_obj)):
            if book is None:
                continue
            result.orderbooks.append(
                {
                    "condition_id": market["condition_id"],
                    "token_id": token,
                    "tier": tier.name,
                    "slot_ts": slot_ts,
                    "captured_at": captured_at,
                    "book_ts": datetime.fromtimestamp(book.timestamp_ms / 1000, tz=timezone.utc) if book.timestamp_ms else None,
                    "hash": book.hash,
                    "bids": _levels(book.bids),
                    "asks": _levels(book.asks),
                    "tick_size": book.tick_size,
                    "last_trade_price": book.last_trade_price,
                }
            )
    return result


def sweep_prices(clob, markets: list[dict], tier: TierSpec, slot_ts: datetime, captured_at: datetime,
                 batch_size: int = 100) -> SweepResult:
    result = SweepResult()
    if not markets:
        return result
    tokens = [t for m in markets for t in (m["yes_token_id"], m["no_token_id"])]
    prices = clob.get_prices(tokens, batch_size=batch_size)
    mids = clob.get_midpoints(tokens, batch_size=batch_size)
    result.raw.append(("/prices", {"tokens": len(tokens)}, prices))
    result.raw.append(("/midpoints", {"tokens": len(tokens)}, mids))
    for market in markets:
        yes, no = market["yes_token_id"], market["no_token_id"]
        if yes not in prices and yes not in mids:
            result.failed_condition_ids.append(market["condition_id"])
            continue
        row = _base_row(market, tier, slot_ts, captured_at, "prices")
        yes_p, no_p = prices.get(yes) or {}, prices.get(no) or {}
        row["best_bid"], row["best_ask"], row["mid"] = _f(yes_p.get("BUY")), _f(yes_p.get("SELL")), _f(mids.get(yes))
        row["no_best_bid"], row["no_best_ask"], row["no_mid"] = _f(no_p.get("BUY")), _f(no_p.get("SELL")), _f(mids.get(no))
        if row["best_bid"] is not None and row["best_ask"] is not None:
            row["spread"] = row["best_ask"] - row["best_bid"]
        row["last_trade_price"] = market.get("last_trade_price")
        row["book_status"] = "not_requested"
        result.rows.append(row)
    return result
