"""Which HTTP outcomes are worth retrying, and how long to wait before the next attempt.

Polymarket signals trouble in several shapes (polymarket_api.md §2-§3): 429 with or without Retry-After,
5xx, a Cloudflare HTML page (often 403), and ``{"error": "Too Many Requests"}`` sent with HTTP 200.
"""

from __future__ import annotations

import math
import random
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

# 408 request timeout, 425 "too early" (a planned matching-engine restart, §9.8), 429 throttling.
RETRYABLE_4XX = frozenset({408, 425, 429})
PLANNED_DOWNTIME_STATUS = 425

_THROTTLE_WORDS = re.compile(r"too many|rate.?limit|throttl|slow down|try again later|\b429\b", re.IGNORECASE)


def backoff_delay(attempt: int, base_s: float, cap_s: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with "equal jitter": half the step is fixed, half random.

    Equal rather than full jitter so that a retry always waits a little: several workers retrying at once
    spread out without any of them hammering the server immediately.
    """
    step = min(cap_s, base_s * (2 ** max(0, attempt)))
    r = rng.random() if rng is not None else random.random()
    return step / 2 + r * step / 2


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date. None if absent/unreadable."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = None
    if seconds is not None:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


def is_retryable_status(status: int) -> bool:
    return status >= 500 or status in RETRYABLE_4XX


def looks_like_html(content_type: str | None, body: bytes) -> bool:
    """Cloudflare challenge and error pages are HTML, whatever the status code."""
    if content_type and "html" in content_type.lower():
        return True
    head = body[:512].lstrip().lower()
    return head.startswith((b"<!doctype", b"<html", b"<head", b"<body"))


def error_message(payload: object) -> str | None:
    """The ``error`` text of a JSON error body, or None when the payload is not an error object."""
    if isinstance(payload, dict) and "error" in payload and payload["error"] not in (None, "", False):
        err = payload["error"]
        return err if isinstance(err, str) else str(err)
    return None


def looks_like_throttling(message: str) -> bool:
    return bool(_THROTTLE_WORDS.search(message))
