"""CLOB REST client (order books, prices, CLOB markets, price history), polymarket_api.md §2.

Returns raw JSON; ``books.parse_book`` types the books. Batch endpoints are chunked, and ``get_books`` runs the
chunks on a small thread pool and reports every requested token that came back without a book.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from polymarket_assets.lib.errors import ApiError
from polymarket_assets.lib.http_client import ApiClient, JsonAnswer

if TYPE_CHECKING:
    from collections.abc import Callable

log = logging.getLogger(__name__)

CLOB_LIMITS: dict[str, tuple[int, float]] = {
    "/book": (1_500, 10.0),
    "/books": (500, 10.0),
    "/price": (1_500, 10.0),
    "/prices": (500, 10.0),
    "/midpoint": (1_500, 10.0),
    "/midpoints": (500, 10.0),
    "/prices-history": (1_000, 10.0),
}
CLOB_GENERAL_LIMIT: tuple[int, float] = (9_000, 10.0)

FIRST_CURSOR = "MA=="  # base64("0")
END_CURSOR = "LTE="  # base64("-1"): no more pages
# /prices-history answers 400 for windows longer than 15 days.
MAX_HISTORY_WINDOW_S = 15 * 24 * 3600
DEFAULT_BATCH = 100  # no documented maximum for /books, /prices, /midpoints


@dataclass(frozen=True)
class BooksResult:
    """What ``get_books`` got back.

    ``missing_token_ids``: requested, answered, but no book for them in the answer (closed or unknown tokens).
    ``failed_token_ids``: their chunk's request failed outright; ``errors`` holds those failures.
    ``bodies``: each answered chunk's body as received (for the raw archive).
    """

    books: list[dict]
    missing_token_ids: tuple[str, ...] = ()
    failed_token_ids: tuple[str, ...] = ()
    errors: tuple[ApiError, ...] = field(default=())
    bodies: tuple[str, ...] = ()

    def __iter__(self):
        # Allows ``books, missing = client.get_books(...)``.
        yield self.books
        yield self.missing_token_ids


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(str(i) for i in items))


def _chunks(items: list[str], size: int) -> list[list[str]]:
    if size < 1:
        raise ValueError("batch_size must be >= 1")
    return [items[i : i + size] for i in range(0, len(items), size)]


class ClobClient(ApiClient):
    def __init__(
        self,
        base_url: str,
        *,
        limits: Mapping[str, tuple[int, float]] | None = None,
        default_limit: tuple[int, float] | None = CLOB_GENERAL_LIMIT,
        **kwargs: Any,
    ):
        super().__init__(
            base_url, limits=CLOB_LIMITS if limits is None else limits, default_limit=default_limit, **kwargs
        )

    # -- books ------------------------------------------------------------------------------------------

    def get_book(self, token_id: str) -> dict:
        book = self.get_json("/book", {"token_id": token_id}, endpoint="/book")
        if not isinstance(book, dict):
            raise ApiError("unexpected /book response: expected an object", body=str(book)[:500])
        return book

    def _post_books(self, chunk: list[str]) -> JsonAnswer:
        answer = self.post_json_answer("/books", [{"token_id": t} for t in chunk], endpoint="/books")
        if not isinstance(answer.payload, list):
            raise ApiError("unexpected /books response: expected a JSON array", body=answer.text[:500])
        return answer

    def get_books(
        self, token_ids: Iterable[str], batch_size: int = DEFAULT_BATCH, max_workers: int = 4
    ) -> BooksResult:
        """Books for many tokens via ``POST /books``, in chunks on a bounded thread pool.

        Every book the server returned is kept (order not preserved). If every chunk fails the last error is
        raised; a partial failure is reported in the result instead, so one bad chunk costs only its tokens.
        """
        wanted = _unique(token_ids)
        if not wanted:
            return BooksResult(books=[])
        chunks = _chunks(wanted, batch_size)
        books: list[dict] = []
        bodies: list[str] = []
        failed: list[str] = []
        errors: list[ApiError] = []

        def collect(chunk: list[str], fetch: Callable[[], JsonAnswer]) -> None:
            try:
                answer = fetch()
                books.extend(answer.payload)
                bodies.append(answer.text)
            except ApiError as exc:
                log.warning("POST /books failed for %d tokens: %s", len(chunk), exc)
                failed.extend(chunk)
                errors.append(exc)

        workers = max(1, min(max_workers, len(chunks)))
        if workers == 1:  # no thread pool for a single worker: same requests, in the calling thread
            for chunk in chunks:
                collect(chunk, lambda chunk=chunk: self._post_books(chunk))
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                futures = [(chunk, pool.submit(self._post_books, chunk)) for chunk in chunks]
                for chunk, future in futures:
                    collect(chunk, future.result)
        if errors and len(errors) == len(chunks):
            raise errors[-1]
        returned = {str(b.get("asset_id")) for b in books if isinstance(b, dict)}
        failed_set = set(failed)
        missing = tuple(t for t in wanted if t not in returned and t not in failed_set)
        return BooksResult(
            books=books,
            missing_token_ids=missing,
            failed_token_ids=tuple(failed),
            errors=tuple(errors),
            bodies=tuple(bodies),
        )

    # -- prices -----------------------------------------------------------------------------------------

    def get_prices(
        self, token_ids: Iterable[str], batch_size: int = DEFAULT_BATCH
    ) -> dict[str, dict[str, Any]]:
        """``{token_id: {"BUY": best bid, "SELL": best ask}}`` (values as the server sent them, usually strings).

        Per polymarket_api.md §2, ``side=BUY`` returns the best bid and ``SELL`` the best ask.
        """
        out: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(_unique(token_ids), batch_size):
            body = [{"token_id": t, "side": side} for t in chunk for side in ("BUY", "SELL")]
            answer = self.post_json("/prices", body, endpoint="/prices")
            if not isinstance(answer, dict):
                raise ApiError("unexpected /prices response: expected an object", body=str(answer)[:500])
            out.update(answer)
        return out

    def get_midpoints(self, token_ids: Iterable[str], batch_size: int = DEFAULT_BATCH) -> dict[str, Any]:
        """``{token_id: midpoint}`` (values as sent, usually decimal strings)."""
        out: dict[str, Any] = {}
        for chunk in _chunks(_unique(token_ids), batch_size):
            answer = self.post_json("/midpoints", [{"token_id": t} for t in chunk], endpoint="/midpoints")
            if not isinstance(answer, dict):
                raise ApiError("unexpected /midpoints response: expected an object", body=str(answer)[:500])
            out.update(answer)
        return out

    # -- markets ----------------------------------------------------------------------------------------

    def get_market(self, condition_id: str) -> dict:
        """``GET /markets/{condition_id}``: carries ``tokens[].winner`` once resolved."""
        market = self.get_json(f"/markets/{condition_id}", endpoint="/markets")
        if not isinstance(market, dict):
            raise ApiError("unexpected CLOB market response: expected an object", body=str(market)[:500])
        return market

    def iter_markets(self) -> Iterator[list[dict]]:
        """Pages of ``GET /markets``, cursor ``MA==`` until ``LTE=``. The page size is the server's choice."""
        cursor = FIRST_CURSOR
        seen: set[str] = set()
        while True:
            payload = self.get_json("/markets", {"next_cursor": cursor}, endpoint="/markets")
            if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
                raise ApiError(
                    "unexpected CLOB /markets response: expected {data: [...]}", body=str(payload)[:500]
                )
            seen.add(cursor)
            yield payload["data"]
            cursor = payload.get("next_cursor")
            if not cursor or cursor == END_CURSOR:
                return
            if cursor in seen:
                raise ApiError(f"CLOB /markets cursor {cursor!r} repeated; paging is not advancing")

    # -- history ----------------------------------------------------------------------------------------

    def get_prices_history(self, token_id: str, start_ts: int, end_ts: int, fidelity: int) -> list[dict]:
        """``[{"t": epoch s, "p": price}, ...]`` for one token, ascending by ``t``, without duplicates.

        Windows longer than 15 days (which the API refuses) are split into pieces and stitched together.
        ``p`` is the forward-filled midpoint, not a trade tape.
        """
        if end_ts < start_ts:
            raise ValueError(f"end_ts {end_ts} is before start_ts {start_ts}")
        points: dict[int, dict] = {}
        piece_start = int(start_ts)
        while True:
            piece_end = min(int(end_ts), piece_start + MAX_HISTORY_WINDOW_S)
            params = {"market": token_id, "startTs": piece_start, "endTs": piece_end, "fidelity": fidelity}
            payload = self.get_json("/prices-history", params, endpoint="/prices-history")
            if not isinstance(payload, dict) or not isinstance(payload.get("history"), list):
                raise ApiError(
                    "unexpected /prices-history response: expected {history: [...]}", body=str(payload)[:500]
                )
            for point in payload["history"]:
                t = point.get("t") if isinstance(point, dict) else None
                if not isinstance(t, int) or isinstance(t, bool):
                    raise ApiError(
                        "unexpected /prices-history point: expected {t: int, p: number}",
                        body=str(point)[:200],
                    )
                points[t] = point  # adjoining pieces share their boundary instant
            if piece_end >= end_ts:
                break
            piece_start = piece_end
        return [points[t] for t in sorted(points)]
