"""A per-client circuit breaker: closed → open after N consecutive failures → half-open after a cooldown.

While open, requests fail at once instead of piling more load on an API that is already failing (and instead
of burning a run's time budget in backoff). After the cooldown one trial request is let through; its outcome
closes the breaker or opens it for another cooldown.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(
        self, failure_threshold: int, cooldown_s: float, *, clock: Callable[[], float] = time.monotonic
    ):
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be >= 1")
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._lock = threading.Lock()
        self._state = CLOSED
        self._consecutive_failures = 0
        self._opened_at = 0.0
        self._trial_in_flight = False
        self.times_opened = 0

    @property
    def state(self) -> str:
        with self._lock:
            return self._current_state()

    def _current_state(self) -> str:
        if self._state == OPEN and self._clock() - self._opened_at >= self.cooldown_s:
            self._state = HALF_OPEN
            self._trial_in_flight = False
        return self._state

    def retry_in_s(self) -> float:
        """Seconds until the breaker lets a trial request through (0 when it would now)."""
        with self._lock:
            if self._current_state() != OPEN:
                return 0.0
            return max(0.0, self.cooldown_s - (self._clock() - self._opened_at))

    def allow_request(self) -> bool:
        """Whether a request may go out now. In half-open state only one trial request is admitted."""
        with self._lock:
            state = self._current_state()
            if state == CLOSED:
                return True
            if state == HALF_OPEN and not self._trial_in_flight:
                self._trial_in_flight = True
                return True
            return False

    def record_success(self) -> None:
        with self._lock:
            self._state = CLOSED
            self._consecutive_failures = 0
            self._trial_in_flight = False

    def record_failure(self) -> None:
        with self._lock:
            state = self._current_state()
            self._consecutive_failures += 1
            if state == HALF_OPEN or self._consecutive_failures >= self.failure_threshold:
                if state != OPEN:
                    self.times_opened += 1
                self._state = OPEN
                self._opened_at = self._clock()
                self._trial_in_flight = False
