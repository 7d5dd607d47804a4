"""Gamma API client (market discovery and metadata), polymarket_api.md §1.

Returns raw JSON objects; turning them into typed rows is ``parse_gamma``'s job. Paging follows the observed
behaviour: ``/markets/keyset`` takes the cursor back as ``after_cursor`` and omits ``next_cursor`` on the last
page; ``/markets`` offset paging is deprecated and refuses offsets beyond about 2000 with a 422.

Keyset paging is sequential (each cursor comes from the previous page), so one listing of 50,000 markets costs
500 round trips back to back. ``iter_open_markets_partitioned`` runs several keyset listings at once over
disjoint ``endDate`` ranges that together cover every market (see its docstring for how markets without an
``endDate`` are found), and falls back to the plain listing whenever that guarantee cannot be kept.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from polymarket_assets.lib.errors import ApiError, ClientResponseError, PaginationLimitError, ParseError
from polymarket_assets.lib.http_client import ApiClient
from polymarket_assets.lib.parse_common import to_datetime

log = logging.getLogger(__name__)

GAMMA_LIMITS: dict[str, tuple[int, float]] = {"/markets": (300, 10.0), "/events": (500, 10.0)}
GAMMA_GENERAL_LIMIT: tuple[int, float] = (4_000, 10.0)

MAX_MARKETS_PAGE = 100  # Gamma clamps larger limits to 100
MAX_EVENTS_KEYSET_PAGE = 500
MAX_OFFSET = 2_000  # offset=2000 still answers, 2100 gives 422
MAX_CONDITION_IDS_PER_REQUEST = 100
# Statuses meaning "this server has no keyset endpoint": fall back to offset paging.
KEYSET_MISSING_STATUSES = frozenset({404, 405, 410})

# Partitioned discovery (iter_open_markets_partitioned).
DISCOVERY_STREAMS = 4  # concurrent keyset listings; /markets allows 300 requests per 10 s, so 4 are plenty
MAX_RANGES_PER_STREAM = 4  # more ranges than streams: a stream that finishes early takes the next range
MIN_PAGES_PER_RANGE = 8  # each range ends on a partial page; smaller ranges waste a larger share of requests
# Each range is widened by this much on both sides, so a market on an edge is listed whether the server's
# end_date_min/max are inclusive or exclusive, and whatever sub-second part its endDate has (duplicates are
# dropped by id).
RANGE_OVERLAP = timedelta(seconds=1)


class Page(list):
    """The markets of one answer, in order, with the request and the body as received: the raw archive keeps
    the body itself, so a page cut down (to unseen or undated markets) still archives the whole answer."""

    def __init__(self, items: Iterable[dict], path: str, request: Mapping[str, Any], body: str) -> None:
        super().__init__(items)
        self.path = path
        self.request = dict(request)
        self.body = body

    def keep(self, items: Iterable[dict]) -> Page:
        """Some of this page's markets, with the same request and body."""
        return Page(items, self.path, self.request, self.body)


class PartitionedListingError(ApiError):
    """The server did not behave as partitioned discovery assumes (e.g. it ignored ``order=endDate``)."""


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _floor_second(ts: datetime) -> datetime:
    return ts.astimezone(UTC).replace(microsecond=0)


def end_date_cuts(
    known_end_dates: Iterable[datetime | None],
    *,
    streams: int = DISCOVERY_STREAMS,
    page_size: int = MAX_MARKETS_PAGE,
) -> list[datetime]:
    """Edges of the endDate ranges for a partitioned listing, ascending; ``[]`` means "list sequentially".

    The ranges are quantiles of the previous discovery's end dates (about equal page counts), at most
    ``MAX_RANGES_PER_STREAM`` per stream and at least ``MIN_PAGES_PER_RANGE`` pages each. Without a previous
    discovery (the first run) nothing is known about where markets lie, and a small listing gains nothing
    from being split, so both are listed sequentially, exactly as ``iter_open_markets`` does.
    """
    known = sorted(d for d in known_end_dates if d is not None)
    pages = math.ceil(len(known) / page_size)
    ranges = min(streams * MAX_RANGES_PER_STREAM, pages // MIN_PAGES_PER_RANGE)
    if ranges < 2:
        return []
    cuts = {_floor_second(known[len(known) * i // ranges]) for i in range(1, ranges)}
    return sorted(cuts)


def _end_date(market: Any) -> datetime | None | bool:
    """A market's endDate; None when it has none, True when it has one we cannot read."""
    if not isinstance(market, dict):
        return True
    value = market.get("endDate")
    if value is None or value == "":
        return None
    try:
        return to_datetime(value, "endDate")
    except ParseError:
        return True


def _market_key(market: Any) -> str:
    if isinstance(market, dict) and market.get("id") is not None:
        return f"id:{market.get('id')}"
    return f"repr:{market!r}"


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


class GammaClient(ApiClient):
    def __init__(
        self,
        base_url: str,
        *,
        limits: Mapping[str, tuple[int, float]] | None = None,
        default_limit: tuple[int, float] | None = GAMMA_GENERAL_LIMIT,
        **kwargs: Any,
    ):
        super().__init__(
            base_url, limits=GAMMA_LIMITS if limits is None else limits, default_limit=default_limit, **kwargs
        )

    # -- keyset paging --------------------------------------------------------------------------------

    def _iter_keyset(
        self, path: str, items_key: str, params: Mapping[str, Any] | None, page_size: int, endpoint: str
    ) -> Iterator[Page]:
        query = dict(params or {})
        query.pop("offset", None)  # keyset endpoints reject offset with a 422
        query["limit"] = page_size
        cursor: str | None = None
        seen_cursors: set[str] = set()
        while True:
            if cursor is not None:
                query["after_cursor"] = cursor
            answer = self.get_json_answer(path, query, endpoint=endpoint)
            payload = answer.payload
            if not isinstance(payload, dict) or not isinstance(payload.get(items_key), list):
                raise ApiError(
                    f"unexpected keyset response from {path}: expected an object with a '{items_key}' list",
                    body=answer.text[:500],
                    url=self.url_for(path),
                )
            yield Page(payload[items_key], path, query, answer.text)
            cursor = payload.get("next_cursor")
            if not cursor:
                return
            # A server that ignores the cursor would serve page 1 forever (as Gamma does for `cursor=`).
            if cursor in seen_cursors:
                raise ApiError(f"keyset cursor {cursor!r} repeated on {path}; paging is not advancing")
            seen_cursors.add(cursor)

    def iter_markets_keyset(
        self, params: Mapping[str, Any] | None = None, page_size: int = MAX_MARKETS_PAGE
    ) -> Iterator[Page]:
        """Pages of ``GET /markets/keyset``. Note Gamma's implicit ``closed=false`` when ``closed`` is not sent."""
        return self._iter_keyset(
            "/markets/keyset", "markets", params, min(page_size, MAX_MARKETS_PAGE), endpoint="/markets"
        )

    def iter_events_keyset(
        self, params: Mapping[str, Any] | None = None, page_size: int = MAX_MARKETS_PAGE
    ) -> Iterator[Page]:
        """Pages of ``GET /events/keyset`` (events embed their ``markets[]``)."""
        return self._iter_keyset(
            "/events/keyset", "events", params, min(page_size, MAX_EVENTS_KEYSET_PAGE), endpoint="/events"
        )

    # -- offset paging (deprecated upstream, kept as a fallback) ----------------------------------------

    def iter_markets_offset(
        self,
        params: Mapping[str, Any] | None = None,
        page_size: int = MAX_MARKETS_PAGE,
        *,
        max_offset: int = MAX_OFFSET,
    ) -> Iterator[Page]:
        """Pages of ``GET /markets?offset=``. Raises ``PaginationLimitError`` once it has yielded everything up
        to the offset cap if more may remain (or when the server refuses an offset with a 422), so a caller
        never mistakes a truncated listing for a complete one.
        """
        limit = min(page_size, MAX_MARKETS_PAGE)
        query = dict(params or {})
        offset = 0
        read = 0
        # The server's page length is read from its answers, never assumed to be `limit` (Gamma clamps to
        # 100 today; a third party documents 1,000): a page shorter than an earlier one is the last.
        served = 0
        while True:
            query.update(limit=limit, offset=offset)
            try:
                answer = self.get_json_answer("/markets", query, endpoint="/markets")
            except ClientResponseError as exc:
                if exc.status == 422:
                    raise PaginationLimitError(
                        f"Gamma refused offset {offset} after {read} markets; the listing is incomplete "
                        "(use /markets/keyset for deeper paging)",
                        status=exc.status,
                        body=exc.body,
                        url=exc.url,
                    ) from exc
                raise
            if not isinstance(answer.payload, list):
                raise ApiError("unexpected /markets response: expected a JSON array", body=answer.text[:500])
            page = Page(answer.payload, "/markets", query, answer.text)
            if not page:
                return
            yield page
            read += len(page)
            offset += len(page)
            if len(page) < served:
                return
            served = max(served, len(page))
            if offset > max_offset:
                raise PaginationLimitError(
                    f"offset cap {max_offset} reached after {read} markets; more may remain "
                    "(use /markets/keyset for deeper paging)"
                )

    # -- combined listing --------------------------------------------------------------------------------

    def _iter_markets_with_fallback(self, params: Mapping[str, Any], page_size: int) -> Iterator[Page]:
        """Keyset paging; if keyset is missing or fails, offset paging, skipping markets already yielded."""
        seen: set[str] = set()
        try:
            for page in self.iter_markets_keyset(params, page_size):
                seen.update(str(m.get("id")) for m in page if isinstance(m, dict))
                yield page
            return
        except ClientResponseError as exc:
            if exc.status not in KEYSET_MISSING_STATUSES:
                log.warning("keyset paging failed (%s); falling back to offset paging", exc)
            else:
                log.info("no /markets/keyset on %s (HTTP %s); using offset paging", self.base_url, exc.status)
        except ApiError as exc:
            log.warning("keyset paging failed (%s); falling back to offset paging", exc)
        for page in self.iter_markets_offset(params, page_size):
            fresh = [m for m in page if not (isinstance(m, dict) and str(m.get("id")) in seen)]
            seen.update(str(m.get("id")) for m in fresh if isinstance(m, dict))
            if fresh:
                yield page.keep(fresh)

    def iter_open_markets(self, page_size: int = MAX_MARKETS_PAGE) -> Iterator[Page]:
        """Every open market, in pages: keyset with ``closed=false``, offset paging as the fallback."""
        return self._iter_markets_with_fallback({"closed": False}, page_size)

    # -- partitioned listing (several keyset streams at once) -----------------------------------------

    def _null_end_date_probe(self, ascending: bool, page_size: int) -> Iterator[Page]:
        """Open markets without an endDate, which no ``end_date_min/max`` range can return.

        Sorted by endDate, markets without one sit together at one end of the order (SQL puts NULLs first
        or last), so one of the two probes (ascending, descending) starts with them: each probe pages while
        it sees only such markets and stops at the first dated one. It checks the order it is given and
        raises ``PartitionedListingError`` when the server did not sort (e.g. ignored ``order``), in which
        case the caller falls back to the sequential listing.
        """
        params = {"closed": False, "order": "endDate", "ascending": ascending}
        for page in self.iter_markets_keyset(params, page_size):
            undated: list[dict] = []
            previous: datetime | None = None
            dated_seen = False
            for market in page:
                end = _end_date(market)
                if end is None:
                    if dated_seen:
                        raise PartitionedListingError(
                            "a market without endDate follows dated ones in an endDate-ordered listing"
                        )
                    undated.append(market)
                    continue
                dated_seen = True
                if isinstance(end, datetime):
                    if previous is not None and (end < previous if ascending else end > previous):
                        raise PartitionedListingError("order=endDate was not honoured by /markets/keyset")
                    previous = end
            if undated:
                yield page.keep(undated)
            if dated_seen:
                return

    def iter_open_markets_partitioned(
        self,
        *,
        known_end_dates: Iterable[datetime | None] = (),
        streams: int = DISCOVERY_STREAMS,
        page_size: int = MAX_MARKETS_PAGE,
        report: dict | None = None,
    ) -> Iterator[Page]:
        """Every open market, in pages (no market twice), from ``streams`` concurrent keyset listings.

        The listings cover disjoint endDate ranges ``(-inf, c1), [c1, c2), ..., [cn, +inf)`` (see
        ``end_date_cuts``; each widened by ``RANGE_OVERLAP``) plus two short endDate-ordered probes for
        markets with no endDate at all, so no open market can fall between them. Pages arrive in no
        particular order. A market whose endDate is edited while the listing runs may be missed by this
        pass (the next hourly discovery sees it); the sequential listing has no such window.

        If a stream fails (after the client's own retries) or the server does not honour the filters the
        way this relies on, the remaining markets come from the sequential ``iter_open_markets``, skipping
        those already yielded, so the result is complete either way. ``report`` (optional) receives
        ``ranges``, ``streams`` and ``fallback`` (None, or why the sequential listing was used).
        """
        cuts = end_date_cuts(known_end_dates, streams=streams, page_size=page_size)
        if report is not None:
            report.update(ranges=len(cuts) + 1 if cuts else 1, streams=streams if cuts else 1, fallback=None)
        if not cuts or streams < 2:
            yield from self.iter_open_markets(page_size)
            return

        def ranged(low: datetime | None, high: datetime | None) -> Callable[[], Iterator[Page]]:
            params: dict[str, Any] = {"closed": False}
            if low is not None:
                params["end_date_min"] = _iso(low - RANGE_OVERLAP)
            if high is not None:
                params["end_date_max"] = _iso(high + RANGE_OVERLAP)
            return lambda: self.iter_markets_keyset(params, page_size)

        edges: list[datetime | None] = [None, *cuts, None]
        tasks: list[Callable[[], Iterator[Page]]] = [
            lambda: self._null_end_date_probe(True, page_size),
            lambda: self._null_end_date_probe(False, page_size),
        ] + [ranged(edges[i], edges[i + 1]) for i in range(len(edges) - 1)]

        seen: set[str] = set()
        failure: BaseException | None = None
        for page in _run_streams(tasks, streams):
            if isinstance(page, BaseException):
                failure = page
                break
            fresh = []
            for market in page:
                key = _market_key(market)
                if key not in seen:
                    seen.add(key)
                    fresh.append(market)
            if fresh:
                yield page.keep(fresh)
        if failure is None:
            return
        if not isinstance(failure, ApiError):
            raise failure
        log.warning("partitioned discovery failed (%s); completing with the sequential listing", failure)
        if report is not None:
            report["fallback"] = str(failure)[:300]
        for page in self.iter_open_markets(page_size):
            fresh = [m for m in page if _market_key(m) not in seen]
            seen.update(_market_key(m) for m in fresh)
            if fresh:
                yield page.keep(fresh)

    # -- single lookups --------------------------------------------------------------------------------

    def get_market(self, gamma_id: str | int) -> dict:
        """``GET /markets/{id}``; works for closed markets too."""
        market = self.get_json(f"/markets/{gamma_id}", endpoint="/markets")
        if not isinstance(market, dict):
            raise ApiError(
                f"unexpected /markets/{gamma_id} response: expected an object", body=str(market)[:500]
            )
        return market

    def get_markets_by_condition_ids(self, ids: Iterable[str], closed: bool | None = None) -> list[dict]:
        """Markets for the given condition ids, at most 100 ids per request.

        ``closed=None`` means open *and* closed markets: Gamma silently applies ``closed=false`` when the
        parameter is absent, so both states are asked for explicitly (two listings per chunk).
        """
        wanted = _unique(ids)
        states = [False, True] if closed is None else [closed]
        out: list[dict] = []
        seen: set[str] = set()
        for chunk in _chunks(wanted, MAX_CONDITION_IDS_PER_REQUEST):
            for state in states:
                params = {"condition_ids": chunk, "closed": state}
                for page in self._iter_markets_with_fallback(params, MAX_MARKETS_PAGE):
                    for market in page:
                        key = str(market.get("id")) if isinstance(market, dict) else repr(market)
                        if key not in seen:
                            seen.add(key)
                            out.append(market)
        return out


def _run_streams(tasks: list[Callable[[], Iterator[Page]]], workers: int) -> Iterator[Page | BaseException]:
    """Run page iterators on ``workers`` threads; yield their pages as they arrive, or the first exception
    (after which nothing more is yielded). The hand-over queue is bounded, so memory stays bounded when the
    consumer is slower than the streams; closing the generator stops the streams after their current request.
    """
    out: queue.Queue = queue.Queue(maxsize=workers * 4)
    stop = threading.Event()

    def put(item: tuple[str, Page | BaseException | None]) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work(task: Callable[[], Iterator[Page]]) -> None:
        try:
            if stop.is_set():
                return
            for page in task():
                if not put(("page", page)):
                    return
            put(("done", None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which re-raises or falls back
            put(("error", exc))

    pending = len(tasks)
    with ThreadPoolExecutor(
        max_workers=max(1, min(workers, len(tasks))), thread_name_prefix="gamma-stream"
    ) as pool:
        try:
            for task in tasks:
                pool.submit(work, task)
            while pending:
                kind, value = out.get()
                if kind == "page":
                    yield value
                elif kind == "done":
                    pending -= 1
                else:
                    yield value
                    return
        finally:
            stop.set()
