"""Frames of one connection → local books, trade rows, book-update rows, raw-frame rows (the hot path).

``FrameProcessor.process(text, received_us)`` parses a frame with the shared parser
(``polymarket_assets.lib.ws_messages.parse_ws_frame_each``), applies it to the connection's books, checks every
``price_change`` (and ``best_bid_ask``) against the local book, and appends row tuples (in the column order
of the incoming schemas, ``polymarket_assets.lib.incoming``) to buffers that the writer swaps out. Anything it
cannot trust is turned into a resync request instead of being guessed at: a malformed frame or message
(quarantined alone with its reason and raw frame, while the frame's other messages are applied), a best-price
mismatch, an update for a token without a book.

One processor per connection, used by that connection's thread only; ``lock`` guards the buffers against
the writer.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import threading
from collections import Counter
from collections.abc import Callable

import pyarrow as pa

from polymarket_assets.lib.errors import ParseError
from polymarket_assets.lib.incoming import INCOMING_BOOK_UPDATES_SCHEMA, INCOMING_RAW_FRAMES_SCHEMA
from polymarket_assets.lib.ws_messages import (
    BestBidAskEvent,
    BookEvent,
    LastTradePriceEvent,
    MarketResolvedEvent,
    NewMarketEvent,
    PongEvent,
    PriceChangeEvent,
    RejectedMessage,
    TickSizeChangeEvent,
    UnknownEvent,
    parse_ws_frame_each,
)
from ws_sidecar import files
from ws_sidecar.books import LocalBook

log = logging.getLogger(__name__)

_ASSET_RE = re.compile(r'"asset_id"\s*:\s*"(\d{1,78})"')
_MARKET_RE = re.compile(r'"market"\s*:\s*"(0x[0-9a-fA-F]{64})"')

# Numbers WS trades uniquely within a run (their uid is ws-<run>-<n>).
ROW_SEQ = itertools.count()


class FrameProcessor:
    def __init__(
        self,
        run_id: str,
        connection_id: str,
        *,
        on_trade: Callable[[str, int, str, str, float, float, str], None] | None = None,
        on_market_event: Callable[[object], None] | None = None,
        quarantine=None,
        keep_raw: bool = True,
    ):
        self.run_id = run_id
        self.connection_id = connection_id
        self.on_trade = on_trade
        self.on_market_event = on_market_event
        self.quarantine = quarantine
        self.keep_raw = keep_raw
        self.lock = threading.Lock()
        self.books: dict[str, LocalBook] = {}
        self.market_of: dict[str, str] = {}  # asset -> condition id, for the assets this connection carries
        # Compact row tuples (``files.BOOK_ROW`` / ``files.RAW_ROW``): the constant and sequence columns are added
        # when the writer converts a batch, which keeps the per-message work small.
        self.trades: list[tuple] = []
        self.book_rows: list[tuple] = []
        self.raw: list[tuple] = []
        self._book_seq = 0
        self._raw_seq = 0
        # asset -> (detail, since_us): books that must be re-fetched before they can be trusted again.
        self.resync: dict[str, tuple[str, int]] = {}
        self.frames = 0
        self.messages = 0
        self.events: Counter[str] = Counter()
        self.unknown: Counter[str] = Counter()
        self.malformed = 0
        self.mismatches = 0
        self.checks = 0
        self.watermark_ms = 0  # newest exchange timestamp seen on this connection
        self.last_data_us = 0
        self.pongs = 0

    # -- buffers ------------------------------------------------------------------------------------------

    def take(self) -> tuple[list[tuple], pa.Table, pa.Table]:
        """Swap the buffers out (under the lock), then convert them (outside it): trade rows, book and raw tables."""
        with self.lock:
            trades, books, raw = self.trades, self.book_rows, self.raw
            self.trades, self.book_rows, self.raw = [], [], []
            book_seq, raw_seq = self._book_seq, self._raw_seq
            self._book_seq += len(books)
            self._raw_seq += len(raw)
        return (
            trades,
            self._convert(
                files.BOOK_ROW,
                books,
                lambda rows, i: files.book_updates_table(rows, self.run_id, self.connection_id, book_seq + i),
                INCOMING_BOOK_UPDATES_SCHEMA,
            ),
            self._convert(
                files.RAW_ROW,
                raw,
                lambda rows, i: files.raw_frames_table(rows, self.run_id, self.connection_id, raw_seq + i),
                INCOMING_RAW_FRAMES_SCHEMA,
            ),
        )

    def _convert(self, layout: tuple[str, ...], rows: list[tuple], build, schema: pa.Schema) -> pa.Table:
        """The buffered rows as one table; a row that cannot be converted is quarantined alone, never the batch."""
        tables, rejected = files.convert_each(build, rows)
        for row, reason in rejected:
            if self.quarantine is not None:
                self.quarantine.add(reason, dict(zip(layout, row)), {"connection_id": self.connection_id})
            else:
                log.error("%s row rejected and no quarantine configured: %s", self.connection_id, reason)
        return pa.concat_tables(tables) if tables else schema.empty_table()

    def pending_rows(self) -> int:
        return len(self.trades) + len(self.book_rows) + len(self.raw)

    # -- books --------------------------------------------------------------------------------------------

    def track(self, asset_id: str, condition_id: str) -> None:
        self.market_of[asset_id] = condition_id
        if asset_id not in self.books:
            self.books[asset_id] = LocalBook(asset_id, condition_id)

    def untrack(self, asset_id: str) -> None:
        self.market_of.pop(asset_id, None)
        self.books.pop(asset_id, None)
        self.resync.pop(asset_id, None)

    def apply_rest_book(self, book, received_us: int) -> None:
        """A book from ``POST /books`` (reseed or resync), a parsed ``polymarket_assets.lib.books.Book``."""
        with self.lock:
            local = self.books.get(book.asset_id)
            if local is None:
                return
            local.replace(book.bids, book.asks, book.hash, book.timestamp_ms, book.tick_size, rest=True)
            local.checked_us = received_us
            self.resync.pop(book.asset_id, None)
            self._snapshot_row(local, book, received_us, "rest")

    def request_resync(self, asset_id: str, detail: str, since_us: int) -> None:
        if asset_id in self.books and asset_id not in self.resync:
            self.resync[asset_id] = (detail, since_us)

    def _snapshot_row(self, local: LocalBook, book, received_us: int, source: str) -> None:
        self.book_rows.append(
            (
                received_us,
                book.timestamp_ms,
                book.asset_id,
                book.market,
                "snapshot",
                source,
                None,
                None,
                None,
                list(book.bids),
                list(book.asks),
                book.hash,
                local.best_bid(),
                local.best_ask(),
                book.tick_size,
            )
        )

    # -- frames -------------------------------------------------------------------------------------------

    def process(self, text: str, received_us: int) -> None:
        with self.lock:
            self.frames += 1
            try:
                events, rejected = parse_ws_frame_each(text)
            except ParseError as exc:
                self._malformed(text, exc.reason, received_us)
                return
            if not rejected and len(events) == 1 and type(events[0]) is PongEvent:
                self.pongs += 1
                return
            if self.keep_raw:
                self.raw.append((received_us, text))
            for bad in rejected:
                # One bad message costs only itself: quarantined with its whole frame, its books re-fetched.
                self._malformed(text, bad.reason, received_us, message=bad)
            previous_us = self.last_data_us
            self.last_data_us = received_us
            for event in events:
                self.messages += 1
                kind = type(event)
                if kind is PriceChangeEvent:
                    self._price_change(event, received_us, previous_us)
                elif kind is BookEvent:
                    self._book(event, received_us)
                elif kind is LastTradePriceEvent:
                    self._trade(event, received_us)
                elif kind is BestBidAskEvent:
                    self._best_bid_ask(event, received_us, previous_us)
                elif kind is TickSizeChangeEvent:
                    self._tick_size(event, received_us)
                elif kind is NewMarketEvent or kind is MarketResolvedEvent:
                    self.events[event.event_type] += 1
                    self.watermark_ms = max(self.watermark_ms, event.timestamp_ms)
                    if self.on_market_event is not None:
                        self.on_market_event(event)
                elif kind is UnknownEvent:
                    self.unknown[event.event_type_name or "<none>"] += 1
                elif kind is PongEvent:
                    self.pongs += 1

    def _malformed(
        self, text: str, reason: str, received_us: int, message: RejectedMessage | None = None
    ) -> None:
        """Quarantine a frame that could not be decoded (``message`` None; its raw text is archived here), or one
        rejected message of a decoded frame (the frame is archived by the caller)."""
        self.malformed += 1
        context = {"connection_id": self.connection_id, "received_us": received_us}
        if message is not None:
            context["message_index"] = message.index
        if self.quarantine is not None:
            self.quarantine.add(reason, text, context)
        if message is None and self.keep_raw:
            self.raw.append((received_us, text))
        if message is not None:
            text = json.dumps(message.message, default=str)
        # Whatever the lost message said is unknown: re-fetch the books it names, or every book if it names none.
        since = self.last_data_us or received_us
        assets = {a for a in _ASSET_RE.findall(text) if a in self.books}
        markets = set(_MARKET_RE.findall(text))
        if markets:
            assets |= {a for a, m in self.market_of.items() if m in {x.lower() for x in markets}}
        if not assets:
            assets = set(self.books)
        for asset in assets:
            # A partial frame may have dropped a sibling token's entries too: resync the whole market.
            market = self.market_of.get(asset)
            for other, m in self.market_of.items():
                if m == market:
                    self.request_resync(other, "malformed frame", since)

    def _price_change(self, event: PriceChangeEvent, received_us: int, previous_us: int) -> None:
        self.events["price_change"] += 1
        ts = event.timestamp_ms
        self.watermark_ms = max(self.watermark_ms, ts)
        books = self.books
        applied = []
        last_entry: dict[str, object] = {}
        for ch in event.changes:
            book = books.get(ch.asset_id)
            if book is None or ts <= book.rest_ts_ms:
                continue  # not ours, or already part of the REST book we applied
            levels = book.bids if ch.side == "BUY" else book.asks
            if ch.size > 0:
                levels[ch.price] = ch.size
            else:
                levels.pop(ch.price, None)
            book.hash = ch.hash
            book.ts_ms = ts
            last_entry[ch.asset_id] = ch
            applied.append(ch)
        if not applied:
            return
        # Rows carry the local best prices after the whole message (one max/min per token, not per level).
        tops = {}
        for asset in last_entry:
            book = books[asset]
            tops[asset] = (max(book.bids) if book.bids else None, min(book.asks) if book.asks else None)
        market = event.market
        append = self.book_rows.append
        for ch in applied:
            top = tops[ch.asset_id]
            append(
                (
                    received_us,
                    ts,
                    ch.asset_id,
                    market,
                    "change",
                    "ws",
                    ch.side,
                    ch.price,
                    ch.size,
                    None,
                    None,
                    ch.hash,
                    top[0],
                    top[1],
                    None,
                )
            )
        for asset, ch in last_entry.items():
            book = books[asset]
            if not book.synced:
                self.request_resync(asset, "update without a book", previous_us or received_us)
                continue
            if ch.best_bid is None and ch.best_ask is None:
                continue
            self.checks += 1
            bid, ask = tops[asset]
            bid = 0.0 if bid is None else bid
            ask = 1.0 if ask is None else ask
            if (ch.best_bid is None or abs(bid - ch.best_bid) <= 1e-9) and (
                ch.best_ask is None or abs(ask - ch.best_ask) <= 1e-9
            ):
                book.checked_us = received_us
            else:
                self.mismatches += 1
                self.request_resync(
                    asset, "best price mismatch", book.checked_us or previous_us or received_us
                )

    def _book(self, event: BookEvent, received_us: int) -> None:
        self.events["book"] += 1
        book = event.book
        self.watermark_ms = max(self.watermark_ms, book.timestamp_ms)
        local = self.books.get(book.asset_id)
        if local is None:
            return
        local.replace(book.bids, book.asks, book.hash, book.timestamp_ms, book.tick_size, rest=False)
        local.checked_us = received_us
        self.resync.pop(book.asset_id, None)
        self._snapshot_row(local, book, received_us, "ws")

    def _trade(self, event: LastTradePriceEvent, received_us: int) -> None:
        self.events["last_trade_price"] += 1
        ts = event.timestamp_ms
        self.watermark_ms = max(self.watermark_ms, ts)
        uid = f"ws-{self.run_id}-{next(ROW_SEQ)}"
        self.trades.append(
            (
                uid,
                "ws",
                event.asset_id,
                event.market,
                event.side,
                event.price,
                event.size,
                event.fee_rate_bps,
                ts,
                received_us,
                None,
                None,
                None,
                self.connection_id,
                self.run_id,
            )
        )
        if self.on_trade is not None:
            self.on_trade(event.market, ts, event.asset_id, event.side, event.size, event.price, uid)

    def _best_bid_ask(self, event: BestBidAskEvent, received_us: int, previous_us: int) -> None:
        self.events["best_bid_ask"] += 1
        book = self.books.get(event.asset_id)
        if book is None or not book.synced or event.timestamp_ms < book.ts_ms:
            return
        self.checks += 1
        if book.agrees_with(event.best_bid, event.best_ask):
            book.checked_us = received_us
        else:
            self.mismatches += 1
            self.request_resync(
                event.asset_id, "best price mismatch", book.checked_us or previous_us or received_us
            )

    def _tick_size(self, event: TickSizeChangeEvent, received_us: int) -> None:
        self.events["tick_size_change"] += 1
        book = self.books.get(event.asset_id)
        if book is not None:
            book.tick_size = event.new_tick_size
        bid = book.best_bid() if book is not None else None
        ask = book.best_ask() if book is not None else None
        self.book_rows.append(
            (
                received_us,
                event.timestamp_ms,
                event.asset_id,
                event.market,
                "tick_size",
                "ws",
                None,
                None,
                None,
                None,
                None,
                None,
                bid,
                ask,
                event.new_tick_size,
            )
        )
