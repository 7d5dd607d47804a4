"""The HTTP core every Polymarket client is built on: one pooled ``requests.Session`` per client, with rate
limiting, timeouts, a response-size cap, retries with jittered backoff, a circuit breaker and counters.

Synchronous on purpose (STYLE.md §7): Dagster runs call it from plain threads, never from an event loop.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, Self
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from polymarket_assets.lib.circuit_breaker import CircuitBreaker
from polymarket_assets.lib.client_stats import ClientStats
from polymarket_assets.lib.clock import SYSTEM_TIME, WallTime
from polymarket_assets.lib.errors import (
    CircuitOpenError,
    ClientResponseError,
    PlannedDowntimeError,
    ResponseTooLargeError,
    RetryExhaustedError,
)
from polymarket_assets.lib.rate_limit import TokenBucket, bucket_for_window, buckets_from_limits
from polymarket_assets.lib.retry_policy import (
    PLANNED_DOWNTIME_STATUS,
    backoff_delay,
    error_message,
    is_retryable_status,
    looks_like_html,
    looks_like_throttling,
    parse_retry_after,
)

log = logging.getLogger(__name__)

_CHUNK_BYTES = 64 * 1024
USER_AGENT = "polymarket-assets/0.1 (+data recorder)"


class JsonAnswer(NamedTuple):
    """A decoded JSON answer and its body as received, which the raw archive keeps instead of re-encoding."""

    payload: Any
    text: str


@dataclass(eq=False)  # exceptions must stay hashable
class _RetryableFault(Exception):
    """One attempt failed in a way worth retrying. Internal: callers only ever see ``ApiError`` subclasses."""

    reason: str
    status: int | None = None
    body: str | None = None
    retry_after: float | None = None
    cause: BaseException | None = None
    planned: bool = False  # HTTP 425: a planned matching-engine restart, waited out on its own schedule


def _normalize_params(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Drop None values and spell booleans the way the APIs expect (``true``, not Python's ``True``).

    Lists stay lists: requests sends them as repeated keys, the OpenAPI default for array parameters.
    """
    if not params:
        return None
    out: dict[str, Any] = {}
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, (list, tuple)):
            out[key] = ["true" if v is True else "false" if v is False else v for v in value]
        else:
            out[key] = value
    return out


class ApiClient:
    """A JSON API client bound to one base URL (which may carry a path prefix such as ``/gamma``).

    ``limits`` maps a rate-limit key (``endpoint``, default the request path) to ``(requests, window_s)``.
    Every request also takes a token from ``default_limit``, the host-wide budget, when one is given.
    ``wall_time`` is the real time its waits spend (backoff, rate limits, cooldowns, ``Retry-After``).
    """

    def __init__(
        self,
        base_url: str,
        *,
        limits: Mapping[str, tuple[int, float]] | None = None,
        default_limit: tuple[int, float] | None = None,
        connect_timeout: float = 3.05,
        read_timeout: float = 10.0,
        max_bytes: int = 10_000_000,
        max_retries: int = 6,
        backoff_base_s: float = 0.2,
        backoff_cap_s: float = 10.0,
        breaker_failures: int = 8,
        breaker_cooldown_s: float = 15.0,
        pool_size: int = 16,
        session: requests.Session | None = None,
        max_retry_after_s: float = 60.0,
        total_timeout_s: float | None = 60.0,
        planned_downtime_wait_s: float = 300.0,
        planned_backoff_base_s: float = 2.0,
        planned_backoff_cap_s: float = 30.0,
        wall_time: WallTime = SYSTEM_TIME,
        rng: random.Random | None = None,
    ):
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"base_url must be an absolute http(s) URL, got {base_url!r}")
        if parts.query or parts.fragment:
            raise ValueError(f"base_url must not carry a query or fragment: {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)
        self.max_bytes = max_bytes
        self.max_retries = max_retries
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self.max_retry_after_s = max_retry_after_s
        self.total_timeout_s = total_timeout_s
        # A planned restart (HTTP 425) halts matching for about 90 s (polymarket_api.md §9.8): it is waited out
        # with backoff from 1-2 s up to 30 s, for at most this long, and never counts as a failure.
        if planned_backoff_base_s <= 0:
            raise ValueError("planned_backoff_base_s must be > 0")
        self.planned_downtime_wait_s = planned_downtime_wait_s
        self.planned_backoff_base_s = planned_backoff_base_s
        self.planned_backoff_cap_s = planned_backoff_cap_s
        self.stats = ClientStats()
        self._time = wall_time
        self.breaker = CircuitBreaker(breaker_failures, breaker_cooldown_s, clock=wall_time.monotonic)
        waits = {"clock": wall_time.monotonic, "sleep": wall_time.sleep}
        self._buckets: dict[str, TokenBucket] = buckets_from_limits(limits or {}, **waits)
        self._general_bucket = bucket_for_window(*default_limit, **waits) if default_limit else None
        self._rng = rng or random.Random()
        # A 429's Retry-After applies to the whole client (the server throttles our address, not one thread).
        self._pause_lock = threading.Lock()
        self._paused_until = 0.0
        self._owns_session = session is None
        self.session = session or self._make_session(pool_size)

    @staticmethod
    def _make_session(pool_size: int) -> requests.Session:
        session = requests.Session()
        # urllib3's own retries are off: retrying is decided here, where the body can be inspected.
        adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
        return session

    def close(self) -> None:
        if self._owns_session:
            self.session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url_for(self, path: str) -> str:
        """Join ``path`` onto the base URL, keeping any prefix the base carries."""
        if "://" in path:
            raise ValueError(f"path must be relative to the base URL, got {path!r}")
        return f"{self.base_url}/{path.lstrip('/')}"

    def get_json(
        self, path: str, params: Mapping[str, Any] | None = None, *, endpoint: str | None = None
    ) -> Any:
        return self.get_json_answer(path, params, endpoint=endpoint).payload

    def get_json_answer(
        self, path: str, params: Mapping[str, Any] | None = None, *, endpoint: str | None = None
    ) -> JsonAnswer:
        """``get_json`` that also returns the body as received."""
        return self._request("GET", path, params=params, body=None, endpoint=endpoint)

    def post_json(self, path: str, body: Any, *, endpoint: str | None = None) -> Any:
        return self.post_json_answer(path, body, endpoint=endpoint).payload

    def post_json_answer(self, path: str, body: Any, *, endpoint: str | None = None) -> JsonAnswer:
        """``post_json`` that also returns the body as received."""
        return self._request("POST", path, params=None, body=body, endpoint=endpoint)

    # -- request loop ---------------------------------------------------------------------------------

    def _request(
        self, method: str, path: str, *, params: Mapping[str, Any] | None, body: Any, endpoint: str | None
    ) -> JsonAnswer:
        url = self.url_for(path)
        key = endpoint or path
        query = _normalize_params(params)
        last: _RetryableFault | None = None
        attempt = planned_attempt = 0
        planned_waited = 0.0
        while attempt <= self.max_retries:
            if not self.breaker.allow_request():
                self.stats.record_circuit_rejection()
                self.stats.record_failure()
                raise CircuitOpenError(
                    f"circuit open for {self.base_url} after repeated failures; "
                    f"next trial in {self.breaker.retry_in_s():.1f} s",
                    url=url,
                )
            self._throttle(key)
            try:
                answer = self._attempt(method, url, query, body)
            except _RetryableFault as fault:
                if fault.planned:
                    # The exchange is up and says so: no breaker strike, no retry of the ordinary budget used.
                    self.breaker.record_success()
                    delay = backoff_delay(
                        planned_attempt, self.planned_backoff_base_s, self.planned_backoff_cap_s, self._rng
                    )
                    if planned_waited + delay > self.planned_downtime_wait_s:
                        self.stats.record_failure()
                        raise PlannedDowntimeError(
                            f"{method} {path}: HTTP 425 (planned restart) for {planned_waited:.0f} s, "
                            f"more than planned_downtime_wait_s={self.planned_downtime_wait_s:.0f}",
                            status=fault.status,
                            body=fault.body,
                            url=url,
                        ) from fault.cause
                    planned_attempt += 1
                    planned_waited += delay
                    log.info("%s %s: planned restart (HTTP 425), retrying in %.2f s", method, url, delay)
                    self.stats.record_planned_downtime(delay)
                    self._time.sleep(delay)
                    continue
                self.breaker.record_failure()
                last = fault
                if attempt == self.max_retries:
                    break
                delay = backoff_delay(attempt, self.backoff_base_s, self.backoff_cap_s, self._rng)
                attempt += 1
                if fault.retry_after is not None:
                    if fault.retry_after > self.max_retry_after_s:
                        self.stats.record_failure()
                        raise RetryExhaustedError(
                            f"{method} {path}: server asked to retry after {fault.retry_after:.0f} s, "
                            f"more than max_retry_after_s={self.max_retry_after_s:.0f}",
                            status=fault.status,
                            body=fault.body,
                            url=url,
                        ) from fault.cause
                    delay = max(delay, fault.retry_after)
                    self._pause_all(delay)
                log.debug("retrying %s %s in %.2f s after %s", method, url, delay, fault.reason)
                self.stats.record_retry(fault.reason, delay)
                self._time.sleep(delay)
            except (ClientResponseError, ResponseTooLargeError):
                # The server is up and answered; the fault is in the request or the data, not its health.
                self.breaker.record_success()
                self.stats.record_failure()
                raise
            except BaseException:
                # Never leave a half-open trial slot taken by an attempt that died unexpectedly.
                self.breaker.record_failure()
                self.stats.record_failure()
                raise
            else:
                self.breaker.record_success()
                return answer
        assert last is not None
        self.stats.record_failure()
        raise RetryExhaustedError(
            f"{method} {path} failed after {self.max_retries + 1} attempts; last fault: {last.reason}",
            status=last.status,
            body=last.body,
            url=url,
        ) from last.cause

    def _pause_all(self, seconds: float) -> None:
        with self._pause_lock:
            self._paused_until = max(self._paused_until, self._time.monotonic() + seconds)

    def _throttle(self, key: str) -> None:
        waited = 0.0
        with self._pause_lock:
            pause = self._paused_until - self._time.monotonic()
        if pause > 0:
            self._time.sleep(pause)
            waited += pause
        if self._general_bucket is not None:
            waited += self._general_bucket.acquire()
        bucket = self._buckets.get(key)
        if bucket is not None:
            waited += bucket.acquire()
        self.stats.record_throttle(waited)

    def _attempt(self, method: str, url: str, params: dict | None, body: Any) -> JsonAnswer:
        try:
            resp = self.session.request(
                method, url, params=params, json=body, timeout=self.timeout, stream=True
            )
        except requests.exceptions.ConnectTimeout as exc:
            self.stats.record_attempt("connect_timeout")
            raise _RetryableFault("connect_timeout", cause=exc) from exc
        except requests.exceptions.ReadTimeout as exc:
            self.stats.record_attempt("read_timeout")
            raise _RetryableFault("read_timeout", cause=exc) from exc
        except requests.exceptions.ConnectionError as exc:
            self.stats.record_attempt("connection_error")
            raise _RetryableFault("connection_error", cause=exc) from exc
        except requests.exceptions.RequestException as exc:
            self.stats.record_attempt("transport_error")
            raise _RetryableFault("transport_error", cause=exc) from exc
        with resp:
            raw = self._read_body(resp, url)
            return self._decode(resp, raw, url)

    def _read_body(self, resp: requests.Response, url: str) -> bytes:
        status = resp.status_code
        declared = resp.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            self.stats.record_attempt(str(status))
            raise ResponseTooLargeError(
                f"response declares {declared} bytes, cap is {self.max_bytes}", status=status, url=url
            )
        buf = bytearray()
        started = self._time.monotonic()
        try:
            for chunk in resp.iter_content(_CHUNK_BYTES):
                buf += chunk
                if len(buf) > self.max_bytes:
                    self.stats.record_attempt(str(status), len(buf))
                    raise ResponseTooLargeError(
                        f"response exceeded the {self.max_bytes}-byte cap", status=status, url=url
                    )
                # The read timeout bounds each socket read; a server that trickles bytes needs a total bound.
                if (
                    self.total_timeout_s is not None
                    and self._time.monotonic() - started > self.total_timeout_s
                ):
                    self.stats.record_attempt("read_timeout", len(buf))
                    raise _RetryableFault("read_timeout", status=status)
        except requests.exceptions.RequestException as exc:
            # urllib3 read timeouts surface here as ConnectionError; short bodies as ChunkedEncodingError.
            reason = "read_timeout" if "timed out" in str(exc).lower() else "truncated_body"
            self.stats.record_attempt(reason, len(buf))
            raise _RetryableFault(reason, status=status, cause=exc) from exc
        self.stats.record_attempt(str(status), len(buf))
        return bytes(buf)

    def _decode(self, resp: requests.Response, raw: bytes, url: str) -> JsonAnswer:
        status = resp.status_code
        text = raw.decode("utf-8", errors="replace")
        if status == 429:
            retry_after = parse_retry_after(resp.headers.get("Retry-After"), now=self._time.now())
            raise _RetryableFault("status_429", status=status, body=text, retry_after=retry_after)
        if status == PLANNED_DOWNTIME_STATUS:
            raise _RetryableFault("status_425", status=status, body=text, planned=True)
        if is_retryable_status(status):
            raise _RetryableFault(f"status_{status}", status=status, body=text)
        if looks_like_html(resp.headers.get("Content-Type"), raw):
            raise _RetryableFault("html", status=status, body=text)
        try:
            payload = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            if status >= 400:
                raise ClientResponseError(f"HTTP {status}", status=status, body=text, url=url) from exc
            raise _RetryableFault("invalid_json", status=status, body=text, cause=exc) from exc
        message = error_message(payload)
        if message is not None and looks_like_throttling(message):
            raise _RetryableFault("throttle_body", status=status, body=text)
        if status >= 400 or not 200 <= status < 300:
            raise ClientResponseError(
                f"HTTP {status}: {message or 'error'}", status=status, body=text, url=url
            )
        if message is not None:
            raise ClientResponseError(
                f"error body with HTTP {status}: {message}", status=status, body=text, url=url
            )
        return JsonAnswer(payload, text)
