"""Thread-safe counters for one API client, reported as run metadata (requests, retries, throttling, bytes)."""

from __future__ import annotations

import threading
from collections import Counter


class ClientStats:
    """Counts what a client did. ``requests`` counts HTTP attempts sent; ``failures`` counts calls that raised.

    ``outcomes`` counts every attempt by HTTP status (``"200"``, ``"429"``) or transport fault (``"timeout"``,
    ``"connection_error"``); ``retry_reasons`` counts why attempts were retried.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.retries = 0
        self.throttle_waits = 0
        self.throttle_wait_s = 0.0
        self.backoff_s = 0.0
        self.failures = 0
        self.circuit_rejections = 0
        self.planned_downtime_waits = 0
        self.planned_downtime_wait_s = 0.0
        self.bytes = 0
        self.outcomes: Counter[str] = Counter()
        self.retry_reasons: Counter[str] = Counter()

    def record_attempt(self, outcome: str, nbytes: int = 0) -> None:
        with self._lock:
            self.requests += 1
            self.bytes += nbytes
            self.outcomes[outcome] += 1

    def record_retry(self, reason: str, sleep_s: float) -> None:
        with self._lock:
            self.retries += 1
            self.retry_reasons[reason] += 1
            self.backoff_s += sleep_s

    def record_planned_downtime(self, sleep_s: float) -> None:
        """A 425 (planned restart) that will be retried after ``sleep_s``: not a failure, not a breaker strike."""
        with self._lock:
            self.planned_downtime_waits += 1
            self.planned_downtime_wait_s += sleep_s

    def record_throttle(self, waited_s: float) -> None:
        if waited_s <= 0:
            return
        with self._lock:
            self.throttle_waits += 1
            self.throttle_wait_s += waited_s

    def record_failure(self) -> None:
        with self._lock:
            self.failures += 1

    def record_circuit_rejection(self) -> None:
        with self._lock:
            self.circuit_rejections += 1

    @property
    def status_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self.outcomes)

    def as_dict(self) -> dict[str, int | float]:
        """Flat numbers, ready for Dagster metadata (``status_429``, ``retry_html``...)."""
        with self._lock:
            out: dict[str, int | float] = {
                "requests": self.requests,
                "retries": self.retries,
                "throttle_waits": self.throttle_waits,
                "throttle_wait_s": round(self.throttle_wait_s, 6),
                "backoff_s": round(self.backoff_s, 6),
                "failures": self.failures,
                "circuit_rejections": self.circuit_rejections,
                "planned_downtime_waits": self.planned_downtime_waits,
                "planned_downtime_wait_s": round(self.planned_downtime_wait_s, 6),
                "bytes": self.bytes,
            }
            out.update({f"status_{k}": v for k, v in sorted(self.outcomes.items())})
            out.update({f"retry_{k}": v for k, v in sorted(self.retry_reasons.items())})
            return out
