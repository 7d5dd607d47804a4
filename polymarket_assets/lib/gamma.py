"""Gamma API client (market discovery and metadata), polymarket_api.md §1.

Returns raw JSON objects; turning them into typed rows is ``parse_gamma``'s job. Paging follows the observed
behaviour: ``/markets/keyset`` takes the cursor back as ``after_cursor`` and omits ``next_cursor`` on the last
page; ``/markets`` offset paging is deprecated and refuses offsets beyond about 2000 with a 422.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from polymarket_assets.lib.errors import ApiError, ClientResponseError, PaginationLimitError
from polymarket_assets.lib.http_client import ApiClient

log = logging.getLogger(__name__)

GAMMA_LIMITS: dict[str, tuple[int, float]] = {"/markets": (300, 10.0), "/events": (500, 10.0)}
GAMMA_GENERAL_LIMIT: tuple[int, float] = (4_000, 10.0)

MAX_MARKETS_PAGE = 100  # Gamma clamps larger limits to 100
MAX_EVENTS_KEYSET_PAGE = 500
MAX_OFFSET = 2_000  # offset=2000 still answers, 2100 gives 422
MAX_CONDITION_IDS_PER_REQUEST = 100
# Statuses meaning "this server has no keyset endpoint": fall back to offset paging.
KEYSET_MISSING_STATUSES = frozenset({404, 405, 410})


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
    ):
        query = dict(params or {})
        query.pop("offset", None)  # keyset endpoints reject offset with a 422
        query["limit"] = page_size
        cursor: str | None = None
        seen_cursors: set[str] = set()
        while True:
            if cursor is not None:
                query["after_cursor"] = cursor
            payload = self.get_json(path, query, endpoint=endpoint)
            if not isinstance(payload, dict) or not isinstance(payload.get(items_key), list):
                raise ApiError(
                    f"unexpected keyset response from {path}: expected an object with a '{items_key}' list",
                    body=str(payload)[:500],
                    url=self.url_for(path),
                )
            yield payload[items_key]
            cursor = payload.get("next_cursor")
            if not cursor:
                return
            # A server that ignores the cursor would serve page 1 forever (as Gamma does for `cursor=`).
            if cursor in seen_cursors:
                raise ApiError(f"keyset cursor {cursor!r} repeated on {path}; paging is not advancing")
            seen_cursors.add(cursor)

    def iter_markets_keyset(
        self, params: Mapping[str, Any] | None = None, page_size: int = MAX_MARKETS_PAGE
    ) -> Iterator[list[dict]]:
        """Pages of ``GET /markets/keyset``. Note Gamma's implicit ``closed=false`` when ``closed`` is not sent."""
        return self._iter_keyset(
            "/markets/keyset", "markets", params, min(page_size, MAX_MARKETS_PAGE), endpoint="/markets"
        )

    def iter_events_keyset(
        self, params: Mapping[str, Any] | None = None, page_size: int = MAX_MARKETS_PAGE
    ) -> Iterator[list[dict]]:
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
    ) -> Iterator[list[dict]]:
        """Pages of ``GET /markets?offset=``. Raises ``PaginationLimitError`` once it has yielded everything up
        to the offset cap if more may remain (or when the server refuses an offset with a 422), so a caller
        never mistakes a truncated listing for a complete one.
        """
        limit = min(page_size, MAX_MARKETS_PAGE)
        query = dict(params or {})
        offset = 0
        read = 0
        while True:
            query.update(limit=limit, offset=offset)
            try:
                page = self.get_json("/markets", query, endpoint="/markets")
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
            if not isinstance(page, list):
                raise ApiError("unexpected /markets response: expected a JSON array", body=str(page)[:500])
            if not page:
                return
            yield page
            read += len(page)
            offset += len(page)
            if len(page) < limit:
                return  # a short page is the last one
            if offset > max_offset:
                raise PaginationLimitError(
                    f"offset cap {max_offset} reached after {read} markets; more may remain "
                    "(use /markets/keyset for deeper paging)"
                )

    # -- combined listing --------------------------------------------------------------------------------

    def _iter_markets_with_fallback(self, params: Mapping[str, Any], page_size: int) -> Iterator[list[dict]]:
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
                yield fresh

    def iter_open_markets(self, page_size: int = MAX_MARKETS_PAGE) -> Iterator[list[dict]]:
        """Every open market, in pages: keyset with ``closed=false``, offset paging as the fallback."""
        return self._iter_markets_with_fallback({"closed": False}, page_size)

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
