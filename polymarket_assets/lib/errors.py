"""Exceptions shared by the API clients and the parsers.

The ``ApiError`` family describes what went wrong talking to a Polymarket API; ``ParseError`` is the one
exception a parser raises for bad input, so callers can quarantine the payload and carry on.
"""

from __future__ import annotations

# Bodies are attached to errors for diagnosis; a 10 MB HTML page in an exception message helps nobody.
_BODY_SNIPPET_CHARS = 500


class ApiError(Exception):
    """A request to an API failed. Carries the HTTP status, a body snippet and the URL when known."""

    def __init__(
        self, message: str, status: int | None = None, body: str | None = None, url: str | None = None
    ):
        self.message = message
        self.status = status
        self.body = body[:_BODY_SNIPPET_CHARS] if isinstance(body, str) else body
        self.url = url
        super().__init__(message)

    def __str__(self) -> str:
        parts = [self.message]
        if self.status is not None:
            parts.append(f"status={self.status}")
        if self.url:
            parts.append(f"url={self.url}")
        if self.body:
            parts.append(f"body={self.body[:200]!r}")
        return " | ".join(parts)


class RetryExhaustedError(ApiError):
    """Every attempt hit a retryable fault (429, 5xx, timeout, HTML, throttling JSON, bad JSON)."""


class PlannedDowntimeError(RetryExhaustedError):
    """The exchange kept answering HTTP 425 (a planned matching-engine restart) for longer than the client waits."""


class CircuitOpenError(ApiError):
    """The client's circuit breaker is open: the API failed repeatedly, so we fail fast until the cooldown ends."""


class ClientResponseError(ApiError):
    """The server answered with a non-retryable error (400/404/422..., or a non-throttling ``{"error": ...}``)."""


class ResponseTooLargeError(ApiError):
    """The response body exceeded the client's ``max_bytes`` cap; the read was aborted."""


class PaginationLimitError(ApiError):
    """Paging hit a server-side or configured depth limit while more data may remain."""


class ParseError(ValueError):
    """A payload could not be turned into a typed row. ``reason`` is short and stable enough to group by."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)
