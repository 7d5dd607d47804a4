"""One market-channel socket, as a small explicit state machine running in its own thread.

::

    IDLE ──assets──> CONNECTING ──open──> SUBSCRIBING ──subscribed + reseeded──> LIVE
      ^                  │ fail                                                   │ error / close / watchdog
      └── no assets      v                                                        v
                      BACKOFF <───────────────────────────────────────────────────┘
                         └──jittered delay──> CONNECTING

On every (re)connect it subscribes every asset it carries and reseeds their books with ``POST /books``.
In LIVE it sends the text ``PING`` every ``ping_interval_s``, applies subscription changes with dynamic
``subscribe``/``unsubscribe`` operations, batches resyncs, compares a sample of books with REST now and then,
and runs the data watchdog: no *data* frame for ``data_timeout_s`` (PONGs do not count) means a silent
freeze, and the socket is replaced.

An interruption opens an *outage* (start = receive time of the last data frame). It closes when the first
data frame arrives on a new, fully subscribed socket; a socket that stays silent keeps the same outage open.
Each closed outage becomes one ``ws_gaps`` row and a trade backfill for the connection's markets.
"""

from __future__ import annotations

import enum
import json
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable

import websocket

from polymarket_assets.lib.books import parse_book
from polymarket_assets.lib.errors import ApiError, ParseError
from polymarket_assets.lib.incoming import RESYNC
from ws_sidecar.books import compare_with_rest
from ws_sidecar.processor import FrameProcessor

log = logging.getLogger(__name__)


class State(enum.Enum):
    IDLE = "idle"
    CONNECTING = "connecting"
    SUBSCRIBING = "subscribing"
    LIVE = "live"
    BACKOFF = "backoff"
    STOPPED = "stopped"


def subscribe_message(assets: list[str]) -> dict:
    """The initial subscription (docs ``docs_example_ws_market_subscribe.json``; initial_dump defaults to true)."""
    return {"assets_ids": assets, "type": "market", "custom_feature_enabled": True}


def dynamic_message(assets: list[str], operation: str) -> dict:
    """``docs_example_ws_dynamic_subscribe.json`` / ``..._unsubscribe.json``."""
    if operation == "subscribe":
        return {"assets_ids": assets, "operation": "subscribe", "custom_feature_enabled": True}
    return {"assets_ids": assets, "operation": "unsubscribe"}


class _BufferedRecv:
    """Read the socket in 64 KiB chunks and hand websocket-client's frame parser the few bytes it asks for.

    websocket-client reads every frame with three ``recv`` calls (header, length, payload), i.e. three system
    calls per message; behind this buffer a burst costs one system call per ~60 frames. Only bytes already
    received are handed out, so timeouts and closes surface exactly as before.
    """

    def __init__(self, recv_fn):
        self._recv = recv_fn
        self._buf = b""
        self._pos = 0

    def __call__(self, n: int) -> bytes:
        if self._pos >= len(self._buf):
            self._buf, self._pos = self._recv(65536), 0
            if not self._buf:
                return self._buf
        chunk = self._buf[self._pos : self._pos + n]
        self._pos += len(chunk)
        return chunk


def _buffer_reads(ws: websocket.WebSocket) -> None:
    frame_buffer = getattr(ws, "frame_buffer", None)
    if frame_buffer is not None and callable(getattr(frame_buffer, "recv", None)):
        frame_buffer.recv = _BufferedRecv(frame_buffer.recv)


class Connection(threading.Thread):
    def __init__(
        self,
        connection_id: str,
        cfg,
        clock,
        processor: FrameProcessor,
        clob,
        *,
        on_gap: Callable[..., None],
        on_first_data: Callable[[str], None] | None = None,
        quarantine=None,
        rng: random.Random | None = None,
    ):
        super().__init__(name=f"ws-{connection_id}", daemon=True)
        self.connection_id = connection_id
        self.cfg = cfg
        self.clock = clock
        self.processor = processor
        self.clob = clob
        self.on_gap = on_gap
        self.on_first_data = on_first_data
        self.quarantine = quarantine
        self.rng = rng or random.Random()
        self.state = State.IDLE
        self._lock = threading.Lock()
        self._desired: dict[str, str] = {}  # asset -> condition id
        self._version = 0  # bumped by set_assets; the socket is re-synced only when it moved
        self._synced_version = -1
        self._halt = threading.Event()
        self._ws: websocket.WebSocket | None = None
        self.subscribed: set[str] = set()
        self.outage: dict | None = None
        self.ever_live = False
        self.first_data_seen = False
        self.attempt = 0
        self.reconnects = 0
        self.freezes = 0
        self.disconnects = 0
        self.resyncs = 0
        self.resynced_assets = 0
        self.hash_checks: Counter[str] = Counter()
        self.reseed_failures = 0
        self._last_data_mono = time.monotonic()
        self._next_resync_mono = 0.0
        self._hash_cursor = 0

    # -- called from other threads ------------------------------------------------------------------------

    def set_assets(self, mapping: dict[str, str]) -> None:
        with self._lock:
            if mapping != self._desired:
                self._desired = dict(mapping)
                self._version += 1

    def desired(self) -> dict[str, str]:
        with self._lock:
            return dict(self._desired)

    def stop(self) -> None:
        """Ask the thread to leave; it notices within one receive timeout and closes its own socket."""
        self._halt.set()

    @property
    def stopping(self) -> bool:
        return self._halt.is_set()

    # -- the state machine --------------------------------------------------------------------------------

    def run(self) -> None:
        try:
            while not self._halt.is_set():
                if self.state is State.IDLE:
                    self._idle()
                elif self.state is State.CONNECTING:
                    self._connect()
                elif self.state is State.SUBSCRIBING:
                    self._subscribe()
                elif self.state is State.LIVE:
                    self._live()
                elif self.state is State.BACKOFF:
                    self._backoff()
        finally:
            self._close_socket()
            self.state = State.STOPPED

    def _idle(self) -> None:
        if self.desired():
            self.state = State.CONNECTING
        else:
            self._halt.wait(0.5)

    def _connect(self) -> None:
        try:
            self._ws = websocket.create_connection(
                self.cfg.ws_url, timeout=self.cfg.connect_timeout_s, skip_utf8_validation=True
            )
            _buffer_reads(self._ws)
            self.state = State.SUBSCRIBING
        except (OSError, websocket.WebSocketException) as exc:
            log.warning("%s: connect failed: %s", self.connection_id, exc)
            self._interrupted("disconnect", f"connect failed: {type(exc).__name__}")

    def _subscribe(self) -> None:
        with self._lock:
            desired, version = dict(self._desired), self._version
        if not desired:
            self._close_socket()
            self.state = State.IDLE
            return
        processor = self.processor
        with processor.lock:
            for asset in [a for a in processor.market_of if a not in desired]:
                processor.untrack(asset)
            for asset, cid in desired.items():
                processor.track(asset, cid)
        assets = sorted(desired)
        try:
            self._ws.send(json.dumps(subscribe_message(assets)))
        except (OSError, websocket.WebSocketException) as exc:
            self._interrupted("disconnect", f"subscribe failed: {type(exc).__name__}")
            return
        self.subscribed = set(assets)
        self._synced_version = version
        self._reseed(assets)
        self._last_data_mono = time.monotonic()
        self._last_ping_mono = time.monotonic()
        self._last_hash_mono = time.monotonic()
        self._ws.settimeout(0.5)
        self.state = State.LIVE

    def _reseed(self, assets: list[str]) -> None:
        """``POST /books`` for ``assets``; a token without a book is resynced later."""
        now = self.clock.now_us()
        try:
            result = self.clob.get_books(assets)
        except ApiError as exc:
            log.warning("%s: reseed of %d books failed: %s", self.connection_id, len(assets), exc)
            self.reseed_failures += 1
            with self.processor.lock:
                for asset in assets:
                    self.processor.request_resync(asset, "reseed failed", now)
            return
        received = self.clock.now_us()
        got = set()
        for raw in result.books:
            try:
                book = parse_book(raw)
            except ParseError as exc:
                if self.quarantine is not None:
                    self.quarantine.add(
                        exc.reason, raw, {"connection_id": self.connection_id, "source": "/books"}
                    )
                continue
            got.add(book.asset_id)
            self.processor.apply_rest_book(book, received)
        with self.processor.lock:
            for asset in assets:
                if asset not in got:
                    self.processor.request_resync(asset, "reseed failed", now)

    def _live(self) -> None:
        ws = self._ws
        try:
            text = ws.recv()
        except websocket.WebSocketTimeoutException:
            text = None
        except (OSError, websocket.WebSocketException) as exc:
            self._interrupted("disconnect", type(exc).__name__)
            return
        mono = time.monotonic()
        if text is not None:
            if not text:  # a close frame
                self._interrupted("disconnect", "closed by server")
                return
            if not isinstance(text, str):
                text = bytes(text).decode("utf-8", errors="replace")
            if not (text == "PONG" or (len(text) < 16 and text.strip() == "PONG")):
                received = self.clock.now_us()
                self.processor.process(text, received)
                self._last_data_mono = mono
                if not self.first_data_seen:
                    self.first_data_seen = True
                    self.ever_live = True
                    self.attempt = 0
                    if self.outage is not None:
                        self._close_outage(received)
                    if self.on_first_data is not None:
                        self.on_first_data(self.connection_id)
            else:
                self.processor.pongs += 1
        if mono - self._last_data_mono > self.cfg.data_timeout_s:
            self.freezes += 1
            self._interrupted("freeze", f"no data for {self.cfg.data_timeout_s:g} s", backoff=False)
            return
        if mono - self._last_ping_mono >= self.cfg.ping_interval_s:
            try:
                ws.send("PING")
            except (OSError, websocket.WebSocketException) as exc:
                self._interrupted("disconnect", type(exc).__name__)
                return
            self._last_ping_mono = mono
        if not self._sync_subscriptions():
            return
        if self.processor.resync and mono >= self._next_resync_mono:
            self._resync()
        if mono - self._last_hash_mono >= self.cfg.hash_check_interval_s:
            self._last_hash_mono = mono
            self._hash_check()

    def _backoff(self) -> None:
        delay = min(self.cfg.backoff_cap_s, self.cfg.backoff_base_s * (2 ** min(self.attempt, 10)))
        delay *= self.rng.uniform(0.5, 1.5)
        self.attempt += 1
        self._halt.wait(delay)
        self.state = State.CONNECTING

    # -- interruptions ------------------------------------------------------------------------------------

    def _interrupted(self, reason: str, detail: str, backoff: bool = True) -> None:
        """Leave the socket; open an outage unless one is already open or we never received anything."""
        self._close_socket()
        if self._halt.is_set():
            self.state = State.STOPPED
            return
        if reason == "disconnect":
            self.disconnects += 1
        if self.outage is None and self.ever_live:
            start = self.processor.last_data_us or self.clock.now_us()
            self.outage = {"start_us": start, "reason": reason, "detail": detail}
        self.reconnects += 1
        self.first_data_seen = False
        self.state = State.BACKOFF if backoff else State.CONNECTING

    def _close_outage(self, end_us: int) -> None:
        outage, self.outage = self.outage, None
        cids = sorted(set(self.desired().values()))
        self.on_gap(
            connection_id=self.connection_id,
            start_us=outage["start_us"],
            end_us=end_us,
            reason=outage["reason"],
            detail=outage["detail"],
            n_assets=len(self.subscribed),
            condition_ids=cids,
        )

    def _close_socket(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            try:
                ws.close(timeout=0.2)
            except Exception:  # noqa: BLE001 - a dead socket fails to close in many ways; drop it regardless
                ws.shutdown()

    # -- LIVE duties --------------------------------------------------------------------------------------

    def _sync_subscriptions(self) -> bool:
        if self._version == self._synced_version:
            return True
        with self._lock:
            desired, version = dict(self._desired), self._version
        if not desired:
            self._close_socket()
            self.state = State.IDLE
            return False
        added = sorted(a for a in desired if a not in self.subscribed)
        removed = sorted(a for a in self.subscribed if a not in desired)
        if not added and not removed:
            self._synced_version = version
            return True
        try:
            if removed:
                self._ws.send(json.dumps(dynamic_message(removed, "unsubscribe")))
                with self.processor.lock:
                    for asset in removed:
                        self.processor.untrack(asset)
                self.subscribed -= set(removed)
            if added:
                with self.processor.lock:
                    for asset in added:
                        self.processor.track(asset, desired[asset])
                self._ws.send(json.dumps(dynamic_message(added, "subscribe")))
                self.subscribed |= set(added)
                self._reseed(added)
        except (OSError, websocket.WebSocketException) as exc:
            self._interrupted("disconnect", type(exc).__name__)
            return False
        self._synced_version = version
        return True

    def _resync(self) -> None:
        with self.processor.lock:
            pending = dict(self.processor.resync)
        assets = sorted(pending)
        try:
            result = self.clob.get_books(assets)
        except ApiError as exc:
            log.warning("%s: resync of %d books failed: %s", self.connection_id, len(assets), exc)
            self._next_resync_mono = time.monotonic() + 2.0
            return
        received = self.clock.now_us()
        done = []
        for raw in result.books:
            try:
                book = parse_book(raw)
            except ParseError as exc:
                if self.quarantine is not None:
                    self.quarantine.add(
                        exc.reason, raw, {"connection_id": self.connection_id, "source": "/books"}
                    )
                continue
            if book.asset_id in pending:
                self.processor.apply_rest_book(book, received)
                done.append(book.asset_id)
        # Tokens the server no longer has a book for (resolved markets) are dropped from the resync list.
        with self.processor.lock:
            for asset in result.missing_token_ids:
                self.processor.resync.pop(asset, None)
        self._next_resync_mono = time.monotonic() + self.cfg.resync_batch_s
        if done:
            self._record_resync(done, pending, received)

    def _record_resync(self, assets: list[str], pending: dict, end_us: int) -> None:
        self.resyncs += 1
        self.resynced_assets += len(assets)
        market_of = self.processor.market_of
        cids = sorted({market_of[a] for a in assets if a in market_of})
        details = Counter(pending[a][0] for a in assets if a in pending)
        start = min(pending[a][1] for a in assets if a in pending)
        self.on_gap(
            connection_id=self.connection_id,
            start_us=min(start, end_us),
            end_us=end_us,
            reason=RESYNC,
            detail=details.most_common(1)[0][0] if details else "resync",
            n_assets=len(assets),
            condition_ids=cids,
        )

    def _hash_check(self) -> None:
        assets = sorted(self.subscribed)
        if not assets:
            return
        k = min(self.cfg.hash_check_sample, len(assets))
        start = self._hash_cursor % len(assets)
        sample = (assets[start:] + assets[:start])[:k]
        self._hash_cursor = start + k
        try:
            result = self.clob.get_books(sample)
        except ApiError as exc:
            log.info("%s: hash check skipped: %s", self.connection_id, exc)
            self.hash_checks["failed"] += 1
            return
        received = self.clock.now_us()
        mismatched = {}
        for raw in result.books:
            try:
                book = parse_book(raw)
            except ParseError:
                continue
            with self.processor.lock:
                local = self.processor.books.get(book.asset_id)
                if local is None:
                    continue
                verdict = compare_with_rest(local, book.hash, book.timestamp_ms, book.bids, book.asks)
                since = local.checked_us or received
            self.hash_checks[verdict] += 1
            if verdict == "mismatch":
                mismatched[book.asset_id] = ("hash mismatch", since)
                self.processor.apply_rest_book(book, received)
        if mismatched:
            self._record_resync(sorted(mismatched), mismatched, received)

    # -- status -------------------------------------------------------------------------------------------

    def snapshot(self) -> dict:
        p = self.processor
        now = self.clock.now_us()
        return {
            "id": self.connection_id,
            "state": self.state.value,
            "assets": len(self.subscribed),
            "desired_assets": len(self._desired),
            "reconnects": self.reconnects,
            "disconnects": self.disconnects,
            "freezes": self.freezes,
            "resyncs": self.resyncs,
            "frames": p.frames,
            "messages": p.messages,
            "pongs": p.pongs,
            "malformed": p.malformed,
            "book_checks": p.checks,
            "book_mismatches": p.mismatches,
            "hash_checks": dict(self.hash_checks),
            "last_message_age_s": round((now - p.last_data_us) / 1e6, 3) if p.last_data_us else None,
            "in_outage": self.outage is not None,
            "outage_s": round((now - self.outage["start_us"]) / 1e6, 3) if self.outage is not None else None,
            "watermark_ms": p.watermark_ms,
        }
