"""Minutes of outage from the recorder's gap intervals (`ws_gaps` rows), counted once however many overlap."""

from __future__ import annotations

from collections.abc import Iterable


def union_minutes(intervals: Iterable[tuple[float, float]], lo: float, hi: float) -> float:
    """Minutes of [lo, hi) covered by the union of (start, end) intervals in epoch seconds."""
    clipped = sorted((max(s, lo), min(e, hi)) for s, e in intervals if e > lo and s < hi)
    total, current = 0.0, None
    for s, e in clipped:
        if current is None or s > current[1]:
            if current is not None:
                total += current[1] - current[0]
            current = [s, e]
        else:
            current[1] = max(current[1], e)
    if current is not None:
        total += current[1] - current[0]
    return total / 60.0
