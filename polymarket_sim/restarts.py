"""Planned matching-engine restarts (polymarket_api.md §9.8): when the exchange halts and when it trades again.

A restart halts matching for `HALT_S` (order-related CLOB endpoints answer HTTP 425, nothing prints and the
market channel is quiet), then runs `POST_ONLY_S` of post-only mode (books move again, still no trades). Restarts
are scheduled through the control API, or weekly (`--restarts weekly`: Tuesdays 11:00 UTC, the documented
07:00 ET slot in daylight-saving time). The schedule is part of the world: trades in a restart window are never
generated, so the REST tapes, the websocket and the ground truth agree.
"""

from __future__ import annotations

import bisect
import math

HALT_S = 90.0
POST_ONLY_S = 120.0
WEEK_S = 7 * 86400.0
# 1970-01-06 was a Tuesday: Tuesday 11:00 UTC is this many seconds into each week counted from the epoch.
_WEEKLY_OFFSET_S = 5 * 86400.0 + 11 * 3600.0


class RestartSchedule:
    def __init__(self, weekly: bool = False) -> None:
        self.weekly = weekly
        self.starts: list[float] = []  # scheduled through the control API, sorted

    def add(self, start: float) -> None:
        bisect.insort(self.starts, float(start))

    def _window_start(self, t: float) -> float | None:
        """The start of the restart window (halt + post-only) that contains t, if any."""
        span = HALT_S + POST_ONLY_S
        i = bisect.bisect_right(self.starts, t)
        if i and t < self.starts[i - 1] + span:
            return self.starts[i - 1]
        if self.weekly:
            start = math.floor((t - _WEEKLY_OFFSET_S) / WEEK_S) * WEEK_S + _WEEKLY_OFFSET_S
            if start <= t < start + span:
                return start
        return None

    def halted(self, t: float) -> bool:
        start = self._window_start(t)
        return start is not None and t < start + HALT_S

    def no_trades(self, t: float) -> bool:
        return self._window_start(t) is not None

    def windows(self, t0: float, t1: float) -> list[dict]:
        """Every restart window overlapping [t0, t1], for the control API's ground truth."""
        starts = [s for s in self.starts if s + HALT_S + POST_ONLY_S > t0 and s < t1]
        if self.weekly:
            first = math.floor((t0 - _WEEKLY_OFFSET_S) / WEEK_S) * WEEK_S + _WEEKLY_OFFSET_S
            starts += [
                s for s in (first + k * WEEK_S for k in range(int((t1 - first) // WEEK_S) + 1)) if s < t1
            ]
        return [
            {"start": s, "halt_end": s + HALT_S, "post_only_end": s + HALT_S + POST_ONLY_S}
            for s in sorted(set(starts))
        ]
