"""Field-level parsing shared by the payload parsers: decimals, prices, ids, timestamps, JSON-in-JSON.

Every helper either returns a clean Python value or raises ``ParseError`` naming the field, so the payload
parsers stay declarative and can promise that bad input raises nothing but ``ParseError``.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from polymarket_assets.lib.errors import ParseError

# Decimal text as the APIs send it: "0.51", ".48", "0.920", "9.999997", "1e-05"; no "nan", "inf" or "0x..".
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_DIGITS = re.compile(r"[0-9]+")
_CONDITION_ID = re.compile(r"0x[0-9a-fA-F]{64}")
# Gamma dates: "2026-03-12T09:25:00Z", "...09:29:01.328428Z", closedTime "2026-05-09 02:07:01+00", bare dates.
_ISO_DATE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,9})?)?(?:Z|[+-][0-9]{2}(?::?[0-9]{2})?)?)?"
)
_MAX_TOKEN_DIGITS = 78  # len(str(2**256 - 1))


def get_field(obj: dict, *names: str) -> Any:
    """The first present, non-None value among ``names`` (for fields whose spelling differs by API version)."""
    for name in names:
        value = obj.get(name)
        if value is not None:
            return value
    return None


def to_float(value: Any, field: str, *, required: bool = False) -> float | None:
    """A finite float from a JSON number or a decimal string. None/absent → None unless required."""
    if value is None:
        if required:
            raise ParseError(f"missing {field}")
        return None
    if isinstance(value, bool):
        raise ParseError(f"{field} is a boolean, expected a number")
    if isinstance(value, (int, float)):
        try:
            result = float(value)
        except OverflowError:
            raise ParseError(f"{field} is out of range") from None
    elif isinstance(value, str):
        text = value.strip()
        if not _DECIMAL.fullmatch(text):
            raise ParseError(f"{field} is not a decimal: {value[:40]!r}")
        result = float(text)
    else:
        raise ParseError(f"{field} has type {type(value).__name__}, expected a number")
    if not math.isfinite(result):
        raise ParseError(f"{field} is not finite")
    return result


def to_price(value: Any, field: str, *, required: bool = False) -> float | None:
    """A probability price in [0, 1]."""
    result = to_float(value, field, required=required)
    if result is not None and not 0.0 <= result <= 1.0:
        raise ParseError(f"{field} {result} outside [0, 1]")
    return result


def to_nonneg(value: Any, field: str, *, required: bool = False) -> float | None:
    result = to_float(value, field, required=required)
    if result is not None and result < 0:
        raise ParseError(f"{field} {result} is negative")
    return result


def to_int(value: Any, field: str, *, required: bool = False) -> int | None:
    """An integer from a JSON integer or a digit string (epoch timestamps arrive both ways)."""
    if value is None:
        if required:
            raise ParseError(f"missing {field}")
        return None
    if isinstance(value, bool):
        raise ParseError(f"{field} is a boolean, expected an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise ParseError(f"{field} {value} is not an integer")
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()) and len(value.strip()) <= 20:
        return int(value.strip())
    raise ParseError(f"{field} is not an integer: {str(value)[:40]!r}")


# -- the time contract ---------------------------------------------------------------------------------------
# Every exchange timestamp a parser accepts is epoch milliseconds inside one window: from TS_MIN (default
# 2020-01-01, before Polymarket's first market) to wall-clock now + TS_MAX_AHEAD (default one day of clock
# skew). Anything else is a unit mix-up or garbage, and is rejected with the unit it most likely was in.

TS_MIN_ENV = "PM_TS_MIN"
TS_MAX_AHEAD_ENV = "PM_TS_MAX_AHEAD_S"
_DEFAULT_TS_MIN = datetime(2020, 1, 1, tzinfo=UTC)
_DEFAULT_TS_MAX_AHEAD_S = 86_400.0


@dataclass(frozen=True)
class TimeWindow:
    """The accepted range of exchange timestamps: ``[min_ms, wall-clock now + max_ahead_ms]``."""

    min_ms: int = int(_DEFAULT_TS_MIN.timestamp() * 1000)
    max_ahead_ms: int = int(_DEFAULT_TS_MAX_AHEAD_S * 1000)

    def max_ms(self) -> int:
        return time.time_ns() // 1_000_000 + self.max_ahead_ms

    def contains_ms(self, ms: int) -> bool:
        return self.min_ms <= ms <= self.max_ms()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> TimeWindow:
        """``PM_TS_MIN`` (an ISO date or instant, UTC when naive) and ``PM_TS_MAX_AHEAD_S`` (seconds)."""
        window = cls()
        text = environ.get(TS_MIN_ENV, "").strip()
        if text:
            start = datetime.fromisoformat(text)
            start = start if start.tzinfo else start.replace(tzinfo=UTC)
            window = replace(window, min_ms=int(start.timestamp() * 1000))
        ahead = environ.get(TS_MAX_AHEAD_ENV, "").strip()
        if ahead:
            seconds = float(ahead)
            if not math.isfinite(seconds) or seconds < 0:
                raise ValueError(
                    f"{TS_MAX_AHEAD_ENV} must be a non-negative number of seconds, got {ahead!r}"
                )
            window = replace(window, max_ahead_ms=int(seconds * 1000))
        return window


_window: TimeWindow | None = None


def time_window() -> TimeWindow:
    """The process's window: set by ``set_time_window``, else read once from the environment."""
    global _window
    if _window is None:
        _window = TimeWindow.from_env()
    return _window


def set_time_window(window: TimeWindow | None) -> None:
    """Override the window (tests, replays of old captures); None reads the environment again on next use."""
    global _window
    _window = window


# Epoch units a timestamp may have been sent in, as (name, milliseconds per unit as a fraction num/den).
_UNITS = (
    ("seconds", 1000, 1),
    ("milliseconds", 1, 1),
    ("microseconds", 1, 1000),
    ("nanoseconds", 1, 1_000_000),
)


def _rejection(field: str, value: int, expected: str, window: TimeWindow) -> ParseError:
    """Why ``value`` (meant to be epoch ``expected``) is outside the window, naming the unit it fits if any."""
    count = len(str(abs(value)))
    digits = f"{count} digit{'' if count == 1 else 's'}"
    if value < 0:
        return ParseError(f"{field} is negative")
    for unit, num, den in _UNITS:
        if unit != expected and window.contains_ms(value * num // den):
            return ParseError(f"{field} looks like epoch {unit} ({digits}), expected epoch {expected}")
    num, den = next((n, d) for unit, n, d in _UNITS if unit == expected)
    if value * num // den < window.min_ms:
        return ParseError(f"{field} is before {_iso_ms(window.min_ms)} ({digits})")
    return ParseError(f"{field} is more than {window.max_ahead_ms // 1000} s in the future ({digits})")


def _iso_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d")


def to_epoch_ms(value: Any, field: str = "timestamp", *, required: bool = True) -> int | None:
    """Epoch milliseconds inside ``time_window()``; anything else raises with its likely unit in the reason."""
    result = _any_int(value, field, required=required)
    if result is None:
        return None
    window = time_window()
    if not window.contains_ms(result):
        raise _rejection(field, result, "milliseconds", window)
    return result


def epoch_s_to_ms(value: Any, field: str = "timestamp", *, required: bool = True) -> int | None:
    """A field the API really sends in epoch seconds (Data API trades), converted to milliseconds here, explicitly,
    and held to the same window."""
    seconds = _any_int(value, field, required=required)
    if seconds is None:
        return None
    window = time_window()
    if not window.contains_ms(seconds * 1000):
        raise _rejection(field, seconds, "seconds", window)
    return seconds * 1000


def datetime_in_window(value: datetime | None, field: str) -> datetime | None:
    """An observation time (Gamma ``createdAt``/``updatedAt``/``closedTime``) held to the same window."""
    if value is None:
        return None
    window = time_window()
    ms = math.floor(value.timestamp() * 1000)
    if ms < window.min_ms:
        raise ParseError(f"{field} is before {_iso_ms(window.min_ms)}")
    if ms > window.max_ms():
        raise ParseError(f"{field} is more than {window.max_ahead_ms // 1000} s in the future")
    return value


def _any_int(value: Any, field: str, *, required: bool) -> int | None:
    """``to_int`` without its 20-character cap, so an absurd digit string is still judged (and its digits
    counted) by the time contract rather than rejected with a vaguer reason."""
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        text = value.strip()
        if len(text) > 40:
            raise ParseError(f"{field} has {len(text)} digits, expected epoch milliseconds")
        return int(text)
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        raise ParseError(f"{field} has {len(str(value))} digits, expected epoch milliseconds")
    return to_int(value, field, required=required)


def to_bool(value: Any, field: str, *, required: bool = False) -> bool | None:
    if value is None:
        if required:
            raise ParseError(f"missing {field}")
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ParseError(f"{field} is not a boolean: {str(value)[:40]!r}")


def to_str(value: Any, field: str, *, required: bool = False) -> str | None:
    if value is None:
        if required:
            raise ParseError(f"missing {field}")
        return None
    if isinstance(value, str):
        return value
    raise ParseError(f"{field} has type {type(value).__name__}, expected a string")


def to_token_id(value: Any, field: str = "token_id") -> str:
    """A CLOB token id: a decimal uint256 kept as text (74-78 digits in practice; never parsed as a number).

    Only "1 to 78 ASCII digits" is enforced. Shorter ids are valid and occur (75-76 digits in the samples);
    the exact uint256 bound is not checked because the local simulator issues 78-digit ids above 2**256,
    and quarantining whole markets over that would cost coverage for no gain.
    """
    if not isinstance(value, str):
        raise ParseError(f"{field} must be a string of digits, got {type(value).__name__}")
    if not _DIGITS.fullmatch(value) or len(value) > _MAX_TOKEN_DIGITS:
        raise ParseError(f"{field} is not a decimal token id of at most 78 digits: {value[:90]!r}")
    return value


def to_condition_id(value: Any, field: str = "condition_id", *, allow_empty: bool = False) -> str | None:
    """``0x`` + 64 hex, lower-cased so joins across APIs match. ``""`` → None only when ``allow_empty``."""
    if value is None or (allow_empty and value == ""):
        if allow_empty:
            return None
        raise ParseError(f"missing {field}")
    if not isinstance(value, str) or not _CONDITION_ID.fullmatch(value):
        raise ParseError(f"{field} is not 0x + 64 hex: {str(value)[:80]!r}")
    return value.lower()


def to_datetime(value: Any, field: str) -> datetime | None:
    """An aware UTC datetime from Gamma's ISO forms (``Z``, ``+00``, microseconds, bare dates). Naive → UTC."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value.strip()):
        raise ParseError(f"{field} is not an ISO-8601 date: {str(value)[:40]!r}")
    text = value.strip()
    # fromisoformat takes at most 6 fractional digits in some forms; trim nanoseconds.
    text = re.sub(r"(\.[0-9]{6})[0-9]+", r"\1", text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ParseError(f"{field} is not a valid date: {value[:40]!r}") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ParseError(f"{field} is out of range: {value[:40]!r}") from None


def json_list(value: Any, field: str, *, required: bool = False) -> list | None:
    """Gamma's JSON-encoded arrays (``"[\\"Yes\\", \\"No\\"]"``); a real array is accepted as well."""
    if value is None:
        if required:
            raise ParseError(f"missing {field}")
        return None
    if isinstance(value, list):
        return value
    if not isinstance(value, str):
        raise ParseError(f"{field} has type {type(value).__name__}, expected a JSON array string")
    try:
        decoded = json.loads(value)
    except (ValueError, RecursionError):
        raise ParseError(f"{field} is not valid JSON: {value[:60]!r}") from None
    if not isinstance(decoded, list):
        raise ParseError(f"{field} does not decode to a JSON array")
    return decoded


def load_json_text(text: Any, what: str) -> Any:
    """Decode a JSON document, mapping every decoder failure (including deep nesting) to ``ParseError``."""
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise ParseError(f"{what} is not UTF-8") from None
    if not isinstance(text, str):
        raise ParseError(f"{what} must be text, got {type(text).__name__}")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise ParseError(f"{what} is not valid JSON") from None
