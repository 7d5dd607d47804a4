"""Data API client (public trade history), polymarket_api.md §5.

``/trades`` pages newest first by offset and stops paging at a server-side offset cap (10,000 today, 1,000 in an
earlier changelog). ``iter_trades`` walks back until it reaches ``since_ts`` or that cap, and says which.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

from polymarket_assets.lib.errors import ApiError, ClientResponseError, ParseError
from polymarket_assets.lib.http_client import ApiClient
from polymarket_assets.lib.parse_common import epoch_s_to_ms

log = logging.getLogger(__name__)

DATA_API_LIMITS: dict[str, tuple[int, float]] = {"/trades": (200, 10.0)}
DATA_API_GENERAL_LIMIT: tuple[int, float] = (1_000, 10.0)
MAX_TRADES_OFFSET = 10_000


def _trade_ts(row: Any) -> int | None:
    """A row's epoch seconds, or None when it has no valid one: such a row is kept for the parser to quarantine,
    and never ends the walk (a poisoned ``"timestamp": 5`` must not pass for "older than since_ts")."""
    try:
        return epoch_s_to_ms(row.get("timestamp"), "timestamp") // 1000 if isinstance(row, dict) else None
    except ParseError:
        return None


class TradePages:
    """Iterable of trade pages (newest first) from ``DataApiClient.iter_trades``.

    After iteration: ``truncated`` is True when paging stopped at the offset cap before reaching
    ``since_ts`` (older trades exist that this listing could not reach); ``reached_since`` when it got back
    to ``since_ts``. Rows shift while paging if trades arrive, so pages can overlap: dedupe with
    ``parse_trades.trade_dedup_key``.
    """

    def __init__(
        self,
        client: DataApiClient,
        condition_ids: list[str],
        since_ts: int | None,
        page_size: int,
        max_offset: int,
    ):
        self._client = client
        self._condition_ids = condition_ids
        self._since_ts = since_ts
        self._page_size = page_size
        self._max_offset = max_offset
        self.truncated = False
        self.reached_since = False
        self.rows = 0

    def __iter__(self) -> Iterator[list[dict]]:
        offset = 0
        while True:
            if offset > self._max_offset:
                self.truncated = True
                log.warning(
                    "trade paging for %d markets stopped at offset cap %d",
                    len(self._condition_ids),
                    self._max_offset,
                )
                return
            try:
                page = self._client.get_trades(self._condition_ids, limit=self._page_size, offset=offset)
            except ClientResponseError as exc:
                # `{"error":"max historical trades offset of 10000 exceeded"}` (400): the server's cap came first.
                if offset > 0 and exc.status == 400 and "offset" in (exc.body or "").lower():
                    self.truncated = True
                    log.warning("trade paging stopped by the server's offset cap at %d: %s", offset, exc)
                    return
                raise
            if not page:
                return
            if self._since_ts is not None:
                kept = [row for row in page if (ts := _trade_ts(row)) is None or ts >= self._since_ts]
                if len(kept) < len(page):
                    self.reached_since = True
                    if kept:
                        self.rows += len(kept)
                        yield kept
                    return
            self.rows += len(page)
            yield page
            if len(page) < self._page_size:
                return  # a short page is the last one; saves a request per market per run
            offset += len(page)


class DataApiClient(ApiClient):
    def __init__(
        self,
        base_url: str,
        *,
        limits: dict[str, tuple[int, float]] | None = None,
        default_limit: tuple[int, float] | None = DATA_API_GENERAL_LIMIT,
        **kwargs: Any,
    ):
        super().__init__(
            base_url,
            limits=DATA_API_LIMITS if limits is None else limits,
            default_limit=default_limit,
            **kwargs,
        )

    def get_trades(
        self,
        condition_ids: Iterable[str],
        limit: int = 500,
        offset: int = 0,
        *,
        taker_only: bool | None = None,
    ) -> list[dict]:
        """One page of ``GET /trades?market=<ids>`` (newest first). ``taker_only=None`` keeps the server default."""
        ids = list(dict.fromkeys(condition_ids))
        if not ids:
            raise ValueError("get_trades needs at least one condition id")
        params = {"market": ",".join(ids), "limit": limit, "offset": offset, "takerOnly": taker_only}
        page = self.get_json("/trades", params, endpoint="/trades")
        if not isinstance(page, list):
            raise ApiError("unexpected /trades response: expected a JSON array", body=str(page)[:500])
        return page

    def iter_trades(
        self,
        condition_ids: Iterable[str],
        since_ts: int | None = None,
        page_size: int = 500,
        max_offset: int = MAX_TRADES_OFFSET,
    ) -> TradePages:
        """Pages of trades, newest first, down to ``since_ts`` (inclusive) or the offset cap."""
        ids = list(dict.fromkeys(condition_ids))
        if not ids:
            raise ValueError("iter_trades needs at least one condition id")
        return TradePages(self, ids, since_ts, page_size, max_offset)
