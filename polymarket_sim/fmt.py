"""Wire formatting shared by every surface: decimal strings, ISO dates, Polymarket's odd date variants.

Prices are held as integer thousandths ("milli") and sizes as integer millionths ("micro") so book arithmetic
is exact and the JSON strings look like the real ones ("0.45", "0.999", "192.3", "1000").
"""

from __future__ import annotations

from datetime import UTC, datetime


def _milli_text(p: int) -> str:
    whole, frac = divmod(p, 1000)
    if frac == 0:
        return str(whole)
    return f"{whole}.{frac:03d}".rstrip("0")


# Every price a book can hold (0 to 1 in thousandths), formatted once: books format about 36 per token.
_MILLI_TEXT = [_milli_text(p) for p in range(1001)]


def fmt_milli(p: int) -> str:
    """Thousandths -> shortest decimal string: 450 -> "0.45", 999 -> "0.999", 1000 -> "1"."""
    return _MILLI_TEXT[p] if 0 <= p <= 1000 else _milli_text(p)


def fmt_micro(s: int) -> str:
    """Millionths -> shortest decimal string: 192_300_000 -> "192.3"."""
    whole, frac = divmod(s, 1_000_000)
    if frac == 0:
        return str(whole)
    return f"{whole}.{frac:06d}".rstrip("0")


_DAY_CACHE: dict[int, str] = {}


def _day(days: int) -> str:
    hit = _DAY_CACHE.get(days)
    if hit is None:
        hit = _DAY_CACHE[days] = datetime.fromtimestamp(days * 86400, tz=UTC).strftime("%Y-%m-%d")
    return hit


def iso(ts: float, micros: bool = False) -> str:
    """Epoch seconds -> "2026-03-12T09:25:00Z" (or with microseconds, as Gamma sometimes sends)."""
    # Hand-rolled (with a per-day cache) because Gamma pages format thousands of dates per request.
    us = round(ts * 1_000_000)
    secs, frac = divmod(us, 1_000_000)
    days, rem = divmod(secs, 86400)
    hh, rem = divmod(rem, 3600)
    mm, ss = divmod(rem, 60)
    if micros:
        return f"{_day(days)}T{hh:02d}:{mm:02d}:{ss:02d}.{frac:06d}Z"
    return f"{_day(days)}T{hh:02d}:{mm:02d}:{ss:02d}Z"


def closed_time(ts: float) -> str:
    """Gamma market closedTime: "YYYY-MM-DD HH:MM:SS+00"."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%S+00")


def date_only(ts: float) -> str:
    return _day(int(ts // 86400))


def parse_time(value) -> float:
    """Epoch seconds (number or numeric string), RFC3339, or YYYY-MM-DD -> epoch seconds."""
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    try:
        return float(text)
    except ValueError:
        pass
    if len(text) == 10:
        text += "T00:00:00Z"
    text = text.replace(" ", "T")
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    if text.endswith("+00") and not text.endswith(":00+00"):
        text += ":00"
    d = datetime.fromisoformat(text)
    if d.tzinfo is None:
        d = d.replace(tzinfo=UTC)
    return d.timestamp()
