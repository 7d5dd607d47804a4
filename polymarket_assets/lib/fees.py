"""Polymarket's taker fee (Fee Structure V2, polymarket_api.md §9.7): the schedule and the one fee function.

A market's schedule comes from Gamma (`feesEnabled`, `feeType`, `feeSchedule{exponent, rate, takerOnly,
rebateRate}`) or from the websocket's `new_market.fee_schedule{exponent, rate, taker_only, rebate_rate}`.
The fee of one taker fill is

    fee = round(size × rate × (p × (1 − p)) ** exponent, 5)

with `size` in shares and `p` the fill price. Makers pay nothing, and a market with fees off (or no
schedule) charges nothing. Rounding is half-up to 5 decimals (0.00001 USD), as the 2026 implementations do;
the early-2026 page said 4, which `FEE_DECIMALS` would change in one place.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pyarrow as pa

from polymarket_assets.lib.errors import ParseError
from polymarket_assets.lib.parse_common import get_field, to_bool, to_nonneg

FEE_DECIMALS = 5
_QUANTUM = Decimal(1).scaleb(-FEE_DECIMALS)

# The fee columns of `market_states` / `markets_current` (filled by `schedule_columns`).
FEE_FIELDS = [
    pa.field("fees_enabled", pa.bool_()),
    pa.field("fee_type", pa.string()),
    pa.field("fee_rate", pa.float64()),
    pa.field("fee_exponent", pa.float64()),
    pa.field("fee_taker_only", pa.bool_()),
    pa.field("fee_rebate_rate", pa.float64()),
]


@dataclass(frozen=True)
class FeeSchedule:
    rate: float
    exponent: float = 1.0
    taker_only: bool = True
    rebate_rate: float | None = None


def parse_fee_schedule(value: Any, field: str = "feeSchedule") -> FeeSchedule | None:
    """A schedule object in Gamma's camelCase or the websocket's snake_case spelling; None when absent."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ParseError(f"{field} is not an object")
    rate = to_nonneg(value.get("rate"), f"{field}.rate", required=True)
    if rate > 1:
        raise ParseError(f"{field}.rate {rate} above 1")
    exponent = to_nonneg(value.get("exponent"), f"{field}.exponent")
    taker_only = to_bool(get_field(value, "takerOnly", "taker_only"), f"{field}.takerOnly")
    rebate = to_nonneg(get_field(value, "rebateRate", "rebate_rate"), f"{field}.rebateRate")
    return FeeSchedule(
        rate=rate,
        exponent=1.0 if exponent is None else exponent,
        taker_only=True if taker_only is None else taker_only,
        rebate_rate=rebate,
    )


def round_fee(amount: float) -> float:
    """Half-up to `FEE_DECIMALS` decimals, on the decimal value (so 0.000005 rounds up, as on paper)."""
    return float(Decimal(repr(amount)).quantize(_QUANTUM, rounding=ROUND_HALF_UP))


def taker_fee(
    size: float,
    price: float,
    schedule: FeeSchedule | None,
    fees_enabled: bool | None = True,
    *,
    maker: bool = False,
) -> float:
    """USD fee of one fill of `size` shares at `price` under `schedule` (0 for makers and fee-free markets)."""
    if maker or not fees_enabled or schedule is None or schedule.rate == 0 or size <= 0:
        return 0.0
    if not 0.0 <= price <= 1.0:
        raise ValueError(f"price {price} outside [0, 1]")
    return round_fee(size * schedule.rate * (price * (1.0 - price)) ** schedule.exponent)


def fee_per_share(price: float, schedule: FeeSchedule | None) -> float:
    """The unrounded taker fee of one share at `price`: what an edge comparison subtracts."""
    if schedule is None or schedule.rate == 0:
        return 0.0
    return schedule.rate * (price * (1.0 - price)) ** schedule.exponent


def schedule_at(history: list[tuple[datetime, FeeSchedule | None]], ts: datetime) -> FeeSchedule | None:
    """The schedule in force at `ts`: the latest observation at or before it, else the earliest one (no source
    serves a fee history, so the first observation stands for the time before it)."""
    if not history:
        return None
    i = bisect_right([at for at, _ in history], ts)
    return history[max(0, i - 1)][1]


def schedule_from_columns(row: dict) -> FeeSchedule | None:
    """The schedule stored in a `market_states` / `markets_current` row (`fee_*` columns), if any."""
    if not row.get("fees_enabled") or row.get("fee_rate") is None:
        return None
    return FeeSchedule(
        rate=row["fee_rate"],
        exponent=row.get("fee_exponent") if row.get("fee_exponent") is not None else 1.0,
        taker_only=row.get("fee_taker_only") if row.get("fee_taker_only") is not None else True,
        rebate_rate=row.get("fee_rebate_rate"),
    )


def schedule_columns(fees_enabled: bool | None, fee_type: str | None, schedule: FeeSchedule | None) -> dict:
    """The `fee_*` columns of a market row (one place for their names)."""
    return {
        "fees_enabled": fees_enabled,
        "fee_type": fee_type,
        "fee_rate": schedule.rate if schedule else None,
        "fee_exponent": schedule.exponent if schedule else None,
        "fee_taker_only": schedule.taker_only if schedule else None,
        "fee_rebate_rate": schedule.rebate_rate if schedule else None,
    }
