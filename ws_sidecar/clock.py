"""The recorder's clock: wall time in production, the simulator's clock under ``PM_CLOCK=sim``.

Every frame is stamped, so ``now_us`` must cost nothing: the simulator clock is a local linear map from
``time.monotonic`` (anchor and speed) that a background thread refreshes from ``GET /control/clock``; it
never blocks the caller on HTTP. Within one process the clock never goes backwards, except when the
simulator's clock itself is set back (tests do that).
"""

from __future__ import annotations

import logging
import threading
import time

import requests

log = logging.getLogger(__name__)


class SystemClock:
    speed = 1.0

    def now_us(self) -> int:
        return time.time_ns() // 1000

    def now(self) -> float:
        return time.time()

    def close(self) -> None:
        pass


class SimClock:
    def __init__(self, control_url: str, refresh_s: float = 0.25, timeout_s: float = 5.0):
        self.url = control_url.rstrip("/") + "/clock"
        self.refresh_s = refresh_s
        self.timeout_s = timeout_s
        self._session = requests.Session()
        self._anchor_sim = 0.0
        self._anchor_mono = 0.0
        self._speed = 0.0
        self._last_us = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.sync()
        self._thread = threading.Thread(target=self._loop, name="sim-clock", daemon=True)
        self._thread.start()

    def sync(self) -> None:
        before = time.monotonic()
        body = self._session.get(self.url, timeout=self.timeout_s).json()
        after = time.monotonic()
        with self._lock:
            new_sim = float(body["now"])
            if new_sim * 1e6 < self._last_us - 5e6:
                # The simulator's clock was set back (a test rewound it): follow it.
                self._last_us = 0
            self._anchor_sim = new_sim
            self._anchor_mono = (before + after) / 2
            self._speed = float(body.get("speed", 0.0))

    def _loop(self) -> None:
        while not self._stop.wait(self.refresh_s):
            try:
                self.sync()
            except (requests.RequestException, ValueError, KeyError) as exc:
                log.warning("simulator clock refresh failed: %s", exc)

    def now_us(self) -> int:
        with self._lock:
            value = int((self._anchor_sim + (time.monotonic() - self._anchor_mono) * self._speed) * 1e6)
            value = max(value, self._last_us)
            self._last_us = value
            return value

    def now(self) -> float:
        return self.now_us() / 1e6

    @property
    def speed(self) -> float:
        """Clock seconds per wall second (a paused simulator counts as 1: its feed is caught up at once)."""
        return max(self._speed, 1.0)

    def close(self) -> None:
        self._stop.set()


def make_clock(kind: str, control_url: str = ""):
    if kind == "sim":
        return SimClock(control_url)
    return SystemClock()
