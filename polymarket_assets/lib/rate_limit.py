"""Client-side rate limiting: a thread-safe token bucket and builders for "N requests per W seconds" limits.

Polymarket publishes its limits as sliding windows ("300 requests per 10 s") enforced by Cloudflare, which
delays or rejects what goes over. We stay under them ourselves so that throttling never decides which
markets get recorded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

# Share of a window's allowance that may be spent at once. A bucket with burst B refilling at R/s can emit
# B + R*W requests in any window of W seconds; sizing it as B = f*N and R = (N - B)/W keeps that at N.
DEFAULT_BURST_FRACTION = 0.1


class TokenBucket:
    """Token bucket: ``burst`` tokens at most, refilled continuously at ``rate_per_s``.

    ``acquire`` reserves a token and sleeps until it is due. Tokens may go negative: each waiting caller
    holds a reservation, so concurrent callers are served in arrival order and never over-spend the rate.
    """

    def __init__(
        self,
        rate_per_s: float,
        burst: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if not rate_per_s > 0:
            raise ValueError(f"rate_per_s must be > 0, got {rate_per_s!r}")
        if not burst >= 1:
            raise ValueError(f"burst must be >= 1, got {burst!r}")
        self.rate_per_s = float(rate_per_s)
        self.burst = float(burst)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(burst)
        self._updated = clock()

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(self.burst, self._tokens + elapsed * self.rate_per_s)
        self._updated = now

    def acquire(self) -> float:
        """Take one token, sleeping as long as needed. Returns the seconds waited (0.0 when none)."""
        with self._lock:
            self._refill(self._clock())
            self._tokens -= 1.0
            wait = 0.0 if self._tokens >= 0 else -self._tokens / self.rate_per_s
        # Sleep outside the lock: the reservation is already booked, others may queue behind it meanwhile.
        if wait > 0:
            self._sleep(wait)
        return wait

    def try_acquire(self) -> bool:
        """Take one token only if it is available right now."""
        with self._lock:
            self._refill(self._clock())
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False

    @property
    def available(self) -> float:
        with self._lock:
            self._refill(self._clock())
            return self._tokens


def bucket_for_window(
    requests: int,
    window_s: float,
    *,
    burst_fraction: float = DEFAULT_BURST_FRACTION,
    **kwargs: Callable[..., float | None],
) -> TokenBucket:
    """A bucket that never lets more than ``requests`` through in any ``window_s``-second window."""
    if requests < 1 or window_s <= 0:
        raise ValueError(f"invalid limit {requests} per {window_s} s")
    burst = max(1, int(requests * burst_fraction))
    # With a single-request window there is nothing left to refill from; fall back to the plain rate.
    refill = requests - burst if requests > burst else requests
    return TokenBucket(refill / window_s, burst, **kwargs)


def buckets_from_limits(
    limits: Mapping[str, tuple[int, float]],
    *,
    burst_fraction: float = DEFAULT_BURST_FRACTION,
    **kwargs: Callable[..., float | None],
) -> dict[str, TokenBucket]:
    """Build one bucket per endpoint key from ``{"/markets": (300, 10.0), ...}``."""
    return {
        key: bucket_for_window(n, window, burst_fraction=burst_fraction, **kwargs)
        for key, (n, window) in limits.items()
    }
