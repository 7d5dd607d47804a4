"""One snapshot sweep, without Dagster: which markets a tier sweeps at an instant, and their rows.

Book tiers use batched `POST /books` for both tokens and compute the metrics from the books (best bid =
max of bids, best ask = min of asks, never by position). Price tiers use batched `POST /prices` and
`POST /midpoints`. Every selected market gets exactly one row per scheduled instant: a market whose book
is gone is written with `book_status='no_orderbook'`, one whose request failed is counted as not captured.
Every record of an answer (a book, a price entry, a midpoint) is judged on its own: a bad one is quarantined
with its reason and costs only its token, and `SweepResult.quarantined` says how many there were.
"""

from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from polymarket_assets.lib.books import book_metrics, parse_book
from polymarket_assets.lib.clob import BooksResult
from polymarket_assets.lib.errors import ApiError, ParseError
from polymarket_assets.lib.parse_common import to_price
from polymarket_assets.lib.schemas import SNAPSHOT_MARKET_COLUMNS, SNAPSHOT_SCHEMA
from polymarket_assets.lib.tiers import DEFAULT_PLAN, TierPlan, TierSpec, assign_tier, hours_to_close

if TYPE_CHECKING:
    from polymarket_assets.lib.books import Book
    from polymarket_assets.lib.clob import ClobClient
    from polymarket_assets.lib.quarantine import Quarantine


def select_markets(
    current: list[dict], tier: str, instant: datetime, plan: TierPlan = DEFAULT_PLAN
) -> list[dict]:
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
    # One dict per book; `bids`/`asks` are tuples of (price, size) pairs, the order the server sent them.
    orderbooks: list[dict] = field(default_factory=list)
    raw: list[tuple[str, object, object]] = field(default_factory=list)
    failed_condition_ids: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    quarantined: int = 0  # records of this sweep's answers kept in the quarantine instead of the rows


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
    for column in SNAPSHOT_MARKET_COLUMNS:
        row[column] = market.get(column)
    return row


def _top_of_book(book: Book) -> tuple[float | None, float | None, float | None]:
    """Best bid, best ask and mid exactly as `book_metrics` gives them (a price counts when a level there has a
    positive size), without its depth and wall figures, which the NO side does not need."""
    bids = [price for price, size in book.bids if size > 0]
    asks = [price for price, size in book.asks if size > 0]
    best_bid = max(bids) if bids else None
    best_ask = min(asks) if asks else None
    mid = (best_bid + best_ask) / 2 if bids and asks else None
    return best_bid, best_ask, mid


def _market_groups(markets: list[dict], batch_size: int) -> list[list[dict]]:
    """Markets in consecutive groups whose two tokens fill one `POST /books` batch (both tokens of a market
    always travel together, so each group's rows can be built as soon as its answer arrives)."""
    per_group = max(1, batch_size // 2)
    return [markets[i : i + per_group] for i in range(0, len(markets), per_group)]


@dataclass
class _GroupAnswer:
    """What the HTTP side fetched for one group of markets (see `_fetch_group`)."""

    answer: BooksResult
    chunks: int
    failed_chunks: int
    # Tokens the answer left out, confirmed one by one: the `GET /book` payload, or the error it raised.
    confirmed: dict[str, object]


@dataclass
class _GroupOutcome:
    rows: list[dict]
    orderbooks: list[dict]
    raw_json: str  # the items of this group's /books answers as received, without the brackets
    failed_condition_ids: list[str]
    book_errors: list[str]
    chunk_errors: list[ApiError]
    chunks: int
    failed_chunks: int
    quarantined: int


def _fetch_group(clob: ClobClient, tokens: list[str], batch_size: int) -> _GroupAnswer:
    """HTTP only (runs on a worker thread of `sweep_books`): the group's `POST /books`."""
    wanted = list(dict.fromkeys(tokens))
    chunks = -(-len(wanted) // batch_size)
    try:
        answer = clob.get_books(wanted, batch_size=batch_size, max_workers=1)
    except ApiError as exc:  # every chunk of the group failed
        return _GroupAnswer(
            BooksResult(books=[], failed_token_ids=tuple(wanted), errors=(exc,)), chunks, chunks, {}
        )
    return _GroupAnswer(answer, chunks, len(answer.errors), {})


def _fetch_book(clob: ClobClient, token: str) -> object:
    """HTTP only: `GET /book` for one token; the payload, or the `ApiError` it raised."""
    try:
        return clob.get_book(token)
    except ApiError as exc:
        return exc


def _confirm(
    token: str,
    fetched: object,
    books: dict,
    no_book: set[str],
    known: set[str],
    quarantine: Quarantine,
    book_errors: list[str],
) -> int:
    """Apply one `GET /book` outcome: a parsed book, a confirmed absence, a quarantined payload or an error.
    Returns how many records it quarantined (0 or 1)."""
    if isinstance(fetched, ApiError):
        if getattr(fetched, "status", None) in (400, 404) or "orderbook" in str(fetched).lower():
            no_book.add(token)
            known.add(token)
        else:
            book_errors.append(f"/book {token}: {fetched}")
        return 0
    try:
        books[token] = _own_book(parse_book(fetched), token)
    except ParseError as exc:
        quarantine.add(str(exc), fetched, {"endpoint": "/book", "token_id": token})
        return 1
    return 0


def _array_items(body: str) -> str:
    """The text between the brackets of a JSON array answer, as received ("" for an empty array)."""
    return body.strip()[1:-1].strip()


def _own_book(book: Book, token: str | None) -> Book:
    """A book answered for `token` must be that token's book: a mislabelled one would be stored under another
    market's name."""
    if token is not None and book.asset_id != token:
        raise ParseError("book answered for another token")
    return book


def _build_group(
    clob: ClobClient,
    group: list[dict],
    fetched: _GroupAnswer,
    tier: TierSpec,
    slot_ts: datetime,
    captured_at: datetime,
    quarantine: Quarantine,
    known: set[str],
) -> _GroupOutcome:
    """Parse one group's books and turn them into rows (on the thread that called `sweep_books`)."""
    answer = fetched.answer
    raw_json = ",".join(items for items in map(_array_items, answer.bodies) if items)
    books: dict[str, object] = {}
    bad_records: list[str] = []
    quarantined = 0
    for obj in answer.books:
        try:
            book = parse_book(obj)
        except ParseError as exc:
            quarantine.add(str(exc), obj, {"endpoint": "/books", "slot_ts": slot_ts.isoformat()})
            quarantined += 1
            # The bad record is kept in quarantine; the token gets one more chance on its own.
            if isinstance(obj, dict) and isinstance(obj.get("asset_id"), str):
                bad_records.append(obj["asset_id"])
            continue
        books[book.asset_id] = book
    book_errors: list[str] = []
    # Left out and already known gone in this run: no request (the worker skipped them too).
    no_book: set[str] = {t for t in answer.missing_token_ids if t in known and t not in fetched.confirmed}
    for token in answer.missing_token_ids:
        if token in fetched.confirmed and token not in books:
            quarantined += _confirm(
                token, fetched.confirmed[token], books, no_book, known, quarantine, book_errors
            )
    for token in bad_records:
        if token in no_book or token in books:
            continue
        try:
            outcome: object = clob.get_book(token)
        except ApiError as exc:
            outcome = exc
        quarantined += _confirm(token, outcome, books, no_book, known, quarantine, book_errors)
    failed = set(answer.failed_token_ids)

    rows: list[dict] = []
    orderbooks: list[dict] = []
    failed_ids: list[str] = []
    columns = SNAPSHOT_SCHEMA.names
    for market in group:
        yes, no = market["yes_token_id"], market["no_token_id"]
        if yes in failed or no in failed or (yes not in books and yes not in no_book):
            failed_ids.append(market["condition_id"])
            continue
        row = _base_row(market, tier, slot_ts, captured_at, "books")
        yes_book, no_book_obj = books.get(yes), books.get(no)
        if yes_book is None:
            row["book_status"] = "no_orderbook"
            rows.append(row)
            continue
        # The book's figures that are snapshot columns (`book_metrics` gives a few more).
        metrics = book_metrics(yes_book)
        row.update((column, metrics[column]) for column in columns if column in metrics)
        row["last_trade_price"] = yes_book.last_trade_price
        row["book_hash"] = yes_book.hash
        row["book_ts"] = (
            datetime.fromtimestamp(yes_book.timestamp_ms / 1000, tz=UTC) if yes_book.timestamp_ms else None
        )
        if no_book_obj is not None:
            row["no_best_bid"], row["no_best_ask"], row["no_mid"] = _top_of_book(no_book_obj)
        row["book_status"] = "ok" if no_book_obj is not None else "partial"
        rows.append(row)
        for token, book in ((yes, yes_book), (no, no_book_obj)):
            if book is None:
                continue
            orderbooks.append(
                {
                    "condition_id": market["condition_id"],
                    "token_id": token,
                    "tier": tier.name,
                    "slot_ts": slot_ts,
                    "captured_at": captured_at,
                    "book_ts": datetime.fromtimestamp(book.timestamp_ms / 1000, tz=UTC)
                    if book.timestamp_ms
                    else None,
                    "hash": book.hash,
                    # (price, size) pairs, which Arrow takes for the LEVEL struct as readily as dicts, at a
                    # fraction of the memory (a 50k-market sweep holds ~1.7 million levels).
                    "bids": book.bids,
                    "asks": book.asks,
                    "tick_size": book.tick_size,
                    "last_trade_price": book.last_trade_price,
                }
            )
    return _GroupOutcome(
        rows,
        orderbooks,
        raw_json,
        failed_ids,
        book_errors,
        list(answer.errors),
        fetched.chunks,
        fetched.failed_chunks,
        quarantined,
    )


def sweep_books(
    clob: ClobClient,
    markets: list[dict],
    tier: TierSpec,
    slot_ts: datetime,
    captured_at: datetime,
    quarantine: Quarantine,
    batch_size: int = 100,
    max_workers: int = 4,
    known_without_book: set[str] | None = None,
) -> SweepResult:
    """One books sweep. `known_without_book` (shared by the sweeps of one run) remembers tokens whose book is
    confirmed gone, so each is confirmed with a single `GET /book` per run rather than per sweep.

    Streams: markets go out in groups of one `POST /books` batch (both tokens of a market in the same
    batch), and the `GET /book` confirmations of tokens a batch left out go out as soon as that batch is
    answered; at most `max_workers` requests run at a time. Worker threads only do HTTP; this thread parses
    each group's books and builds its rows as soon as its requests are done, so parsing overlaps the (rate
    limited) requests and only a few raw answers are held at once. Rows, order books and the raw answer come
    out in the order of `markets`, exactly as if every batch had been fetched first. If every batch fails,
    the last batch's error is raised.
    """
    result = SweepResult()
    if not markets:
        return result
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    known = known_without_book if known_without_book is not None else set()
    groups = _market_groups(markets, batch_size)
    outcomes: list[_GroupOutcome | None] = [None] * len(groups)
    answers: dict[int, _GroupAnswer] = {}
    unconfirmed: dict[int, int] = {}  # group -> GET /book requests still running
    window = max(1, max_workers) * 2  # requests in flight or answered but not yet used

    def build(index: int) -> None:
        outcomes[index] = _build_group(
            clob, groups[index], answers.pop(index), tier, slot_ts, captured_at, quarantine, known
        )

    with ThreadPoolExecutor(max_workers=max(1, max_workers), thread_name_prefix="books") as pool:
        running: dict = {}  # future -> (group index, token or None for the group's POST /books)
        next_group = 0
        try:
            while next_group < len(groups) or running:
                while next_group < len(groups) and len(running) < window:
                    tokens = [t for m in groups[next_group] for t in (m["yes_token_id"], m["no_token_id"])]
                    running[pool.submit(_fetch_group, clob, tokens, batch_size)] = (next_group, None)
                    next_group += 1
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    index, token = running.pop(future)
                    if token is not None:
                        answers[index].confirmed[token] = future.result()
                        unconfirmed[index] -= 1
                        if not unconfirmed[index]:
                            build(index)
                        continue
                    answers[index] = future.result()
                    # Asked and answered, but no book: confirm one by one (a closed market has no order book
                    # any more), concurrently, unless this run already confirmed it gone.
                    missing = [t for t in answers[index].answer.missing_token_ids if t not in known]
                    unconfirmed[index] = len(missing)
                    for missing_token in missing:
                        running[pool.submit(_fetch_book, clob, missing_token)] = (index, missing_token)
                    if not missing:
                        build(index)
        finally:
            for future in running:
                future.cancel()

    chunks = sum(o.chunks for o in outcomes)
    chunk_errors = [e for o in outcomes for e in o.chunk_errors]
    if chunk_errors and sum(o.failed_chunks for o in outcomes) == chunks:
        raise chunk_errors[-1]
    tokens_asked = sum(2 * len(g) for g in groups)
    fragments = [o.raw_json for o in outcomes if o.raw_json]
    result.raw.append(("/books", {"tokens": tokens_asked}, "[" + ",".join(fragments) + "]"))
    for outcome in outcomes:
        result.rows.extend(outcome.rows)
        result.orderbooks.extend(outcome.orderbooks)
        result.failed_condition_ids.extend(outcome.failed_condition_ids)
        result.quarantined += outcome.quarantined
    result.errors.extend(e for o in outcomes for e in o.book_errors)
    result.errors.extend(str(e) for e in chunk_errors)
    return result


def _price(value: Any, field: str) -> float | None:
    """A price in [0, 1], or None when the API sent none (absent, null or "")."""
    return None if value == "" else to_price(value, field)


def _clean_prices(
    answer: dict, quarantine: Quarantine, slot_ts: datetime
) -> dict[str, tuple[float | None, float | None]]:
    """`POST /prices` entries → {token: (best bid, best ask)}. An entry that is not an object, or holds a value that
    is not a price in [0, 1] (NaN, Infinity, negative, above 1, text), is quarantined whole and left out."""
    out: dict[str, tuple[float | None, float | None]] = {}
    for token, entry in answer.items():
        try:
            if not isinstance(entry, dict):
                raise ParseError(f"/prices entry is {type(entry).__name__}, expected an object")
            out[token] = (_price(entry.get("BUY"), "BUY"), _price(entry.get("SELL"), "SELL"))
        except ParseError as exc:
            quarantine.add(
                exc.reason, {token: entry}, {"endpoint": "/prices", "slot_ts": slot_ts.isoformat()}
            )
    return out


def _clean_mids(answer: dict, quarantine: Quarantine, slot_ts: datetime) -> dict[str, float | None]:
    """`POST /midpoints` entries → {token: mid}, each value held to [0, 1] like a price; bad ones quarantined."""
    out: dict[str, float | None] = {}
    for token, value in answer.items():
        try:
            out[token] = _price(value, "midpoint")
        except ParseError as exc:
            quarantine.add(
                exc.reason, {token: value}, {"endpoint": "/midpoints", "slot_ts": slot_ts.isoformat()}
            )
    return out


def sweep_prices(
    clob: ClobClient,
    markets: list[dict],
    tier: TierSpec,
    slot_ts: datetime,
    captured_at: datetime,
    quarantine: Quarantine,
    batch_size: int = 100,
) -> SweepResult:
    """One prices sweep. Every entry of the answers is validated on its own: a bad one is quarantined and costs
    only its token (a market whose YES token has neither a valid price nor a valid mid is not captured)."""
    result = SweepResult()
    if not markets:
        return result
    tokens = [t for m in markets for t in (m["yes_token_id"], m["no_token_id"])]
    raw_prices = clob.get_prices(tokens, batch_size=batch_size)
    raw_mids = clob.get_midpoints(tokens, batch_size=batch_size)
    result.raw.append(("/prices", {"tokens": len(tokens)}, raw_prices))
    result.raw.append(("/midpoints", {"tokens": len(tokens)}, raw_mids))
    prices = _clean_prices(raw_prices, quarantine, slot_ts)
    mids = _clean_mids(raw_mids, quarantine, slot_ts)
    result.quarantined = len(raw_prices) - len(prices) + len(raw_mids) - len(mids)
    for market in markets:
        yes, no = market["yes_token_id"], market["no_token_id"]
        if yes not in prices and yes not in mids:
            result.failed_condition_ids.append(market["condition_id"])
            continue
        row = _base_row(market, tier, slot_ts, captured_at, "prices")
        row["best_bid"], row["best_ask"] = prices.get(yes, (None, None))
        row["mid"] = mids.get(yes)
        row["no_best_bid"], row["no_best_ask"] = prices.get(no, (None, None))
        row["no_mid"] = mids.get(no)
        if row["best_bid"] is not None and row["best_ask"] is not None:
            row["spread"] = row["best_ask"] - row["best_bid"]
        row["last_trade_price"] = market.get("last_trade_price")
        row["book_status"] = "not_requested"
        result.rows.append(row)
    return result
