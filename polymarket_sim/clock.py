"""The simulated clock: wall-clock, accelerated, or paused and moved only through the control API."""

from __future__ import annotations

import threading
import time


class SimClock:
    """now() = anchor_sim + (wall - anchor_wall) * speed. Re-anchoring on every change keeps it continuous."""

    def __init__(self, start: float, speed: float = 1.0) -> None:
        self._lock = threading.Lock()
        self._anchor_sim = float(start)
        self._anchor_wall = time.monotonic()
        self._speed = float(speed)

    def now(self) -> float:
        with self._lock:
            return self._anchor_sim + (time.monotonic() - self._anchor_wall) * self._speed

    @property
    def speed(self) -> float:
        return self._speed

    def set(self, ts: float) -> None:
        with self._lock:
            self._anchor_sim = float(ts)
            self._anchor_wall = time.monotonic()

    def advance(self, seconds: float) -> None:
        self.set(self.now() + float(seconds))

    def set_speed(self, speed: float) -> None:
        if speed < 0:
            raise ValueError("speed must be >= 0")
        current = self.now()
        with self._lock:
            self._anchor_sim = current
            self._anchor_wall = time.monotonic()
            self._speed = float(speed)
