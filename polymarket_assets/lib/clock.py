"""Where "now" comes from: the system clock in production, or the simulator's clock in tests and the demo.

A sweep waits for its scheduled instant on this clock and stamps `captured_at` from it, so a run against an
accelerated or test-stepped simulator behaves exactly as a production run does against wall time.

`WallTime` is the real time that waiting code spends whatever the clock above says (HTTP backoff, rate limits,
circuit-breaker cooldowns, `Retry-After`): tests hand it a fake to assert exact delays without sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import requests


@dataclass(frozen=True)
class WallTime:
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    now: Callable[[], datetime] = lambda: datetime.now(UTC)


SYSTEM_TIME = WallTime()


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep_until(self, instant: datetime) -> None:
        while True:
            remaining = (instant - self.now()).total_seconds()
            if remaining <= 0:
                return
            time.sleep(min(remaining, 1.0))


class SimClock:
    """The simulator's clock, read from its control API (`GET {control_url}/clock`).

    It keeps a local mapping from wall time to simulated time (refreshed on every call to `sync`), so
    waiting costs no requests while the simulator runs at a fixed speed; a paused simulator is polled.
    """

    def __init__(self, control_url: str, session: requests.Session | None = None, poll_s: float = 0.02):
        self.control_url = control_url.rstrip("/")
        self.session = session or requests.Session()
        self.poll_s = poll_s
        self._anchor_sim = 0.0
        self._anchor_wall = 0.0
        self._speed = 0.0
        self.sync()

    def sync(self) -> None:
        wall_before = time.monotonic()
        response = self.session.get(f"{self.control_url}/clock", timeout=5)
        response.raise_for_status()
        body = response.json()
        wall_after = time.monotonic()
        self._anchor_sim = float(body["now"])
        self._anchor_wall = (wall_before + wall_after) / 2
        self._speed = float(body.get("speed", 0.0))

    def _now_ts(self) -> float:
        if self._speed <= 0:
            self.sync()
            return self._anchor_sim
        return self._anchor_sim + (time.monotonic() - self._anchor_wall) * self._speed

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._now_ts(), tz=UTC)

    def sleep_until(self, instant: datetime, max_wall_s: float = 900.0) -> None:
        target = instant.timestamp()
        deadline = time.monotonic() + max_wall_s
        while True:
            now = self._now_ts()
            if now >= target:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"simulated clock did not reach {instant.isoformat()} within {max_wall_s} s"
                )
            if self._speed > 0:
                time.sleep(min((target - now) / self._speed, 0.5))
                self.sync()
            else:
                time.sleep(self.poll_s)
