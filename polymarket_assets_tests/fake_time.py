"""A fake wall time for tests of waiting code: it moves only when slept through or advanced, so every wait is
exact, recorded, and takes no real time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from polymarket_assets.lib.clock import WallTime

START = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


class FakeTime:
    def __init__(self, start: datetime = START) -> None:
        self.start = start
        self.elapsed = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return 1000.0 + self.elapsed

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.elapsed)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.elapsed += seconds

    async def asleep(self, seconds: float) -> None:
        """`sleep` for code that awaits `asyncio.sleep`."""
        self.sleep(seconds)

    def advance(self, seconds: float) -> None:
        self.elapsed += seconds

    @property
    def wall_time(self) -> WallTime:
        return WallTime(monotonic=self.monotonic, sleep=self.sleep, now=self.now)
