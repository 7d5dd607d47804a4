"""Field-level parsing shared by the payload parsers: decimals, prices, ids, timestamps, JSON-in-JSON.

Every helper either returns a clean Python value or raises ``ParseError`` naming the field, so the payload
parsers stay declarative and can promise that bad input raises nothing but ``ParseError``.
"""

from __future__ import annotations

import json
import math
import re
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


def to_epoch_ms(value: Any, field: str = "timestamp", *, required: bool = True) -> int | None:
    result = to_int(value, field, required=required)
    if result is not None and result < 0:
        raise ParseError(f"{field} is negative")
    return result


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
