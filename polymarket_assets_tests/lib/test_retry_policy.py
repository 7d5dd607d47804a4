"""Retry classification helpers."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from polymarket_assets.lib.retry_policy import (
    backoff_delay,
    error_message,
    is_retryable_status,
    looks_like_html,
    looks_like_throttling,
    parse_retry_after,
)

NOW = datetime(2026, 3, 22, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "value, expected",
    [
        ("3", 3.0),
        (" 1.5 ", 1.5),
        ("-4", 0.0),
        ("Sun, 22 Mar 2026 12:00:30 GMT", 30.0),
        ("Sun, 22 Mar 2026 11:00:00 GMT", 0.0),  # in the past
        (None, None),
        ("", None),
        ("soon", None),
        ("nan", None),
    ],
)
def test_parse_retry_after(value, expected):
    assert parse_retry_after(value, now=NOW) == expected


def test_backoff_grows_is_jittered_and_capped():
    rng = random.Random(7)
    delays = [backoff_delay(a, 0.2, 10.0, rng) for a in range(10)]
    for attempt, d in enumerate(delays):
        step = min(10.0, 0.2 * 2**attempt)
        assert step / 2 <= d <= step
    assert len({round(d, 6) for d in delays}) == len(delays)


def test_classification():
    assert is_retryable_status(500) and is_retryable_status(429) and is_retryable_status(425)
    assert not any(is_retryable_status(s) for s in (400, 401, 403, 404, 405, 410, 422))
    assert looks_like_html("text/html; charset=UTF-8", b"")
    assert looks_like_html(None, b"  <!DOCTYPE html><html>")
    assert not looks_like_html("application/json", b'{"a": "<html>"}')
    assert error_message({"error": "Too Many Requests"}) == "Too Many Requests"
    assert error_message({"error": None}) is None and error_message([{"error": "x"}]) is None
    assert looks_like_throttling("Too Many Requests") and looks_like_throttling("rate limit exceeded")
    assert not looks_like_throttling("No orderbook exists for the requested token id")
