"""Resolution labels, by the strict rules of DESIGN.md ("Labels and the model").

A market is YES or NO only when it is closed and `outcomePrices` is exactly one-hot, or when the CLOB marks
exactly one token as `winner`. `["0", "0"]` on a closed market is INVALID. Everything else is UNKNOWN and
stays pending: `closed` alone, fractional prices and near-one prices are never enough.

YES and NO name outcomes, never positions: the winning index of `outcomePrices` is looked up in the market's
`outcomes` (a market may list `["No", "Yes"]`), with the same name → side rule as the Gamma parser.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from polymarket_assets.lib.parse_gamma import map_binary

YES, NO, INVALID, UNKNOWN = "YES", "NO", "INVALID", "UNKNOWN"
FINAL_LABELS = frozenset({YES, NO, INVALID})


@dataclass(frozen=True)
class Label:
    outcome: str
    source: str
    detail: str = ""


def _exact(values) -> list[Decimal] | None:
    try:
        return [Decimal(str(v).strip()) for v in values]
    except (InvalidOperation, TypeError, ValueError):
        return None


def label_from_gamma(closed: bool | None, outcome_prices, outcomes) -> Label:
    """Label from a Gamma market's `closed` flag, decoded `outcomePrices` (strings or numbers) and decoded
    `outcomes` (the names at the same indices)."""
    if not closed:
        return Label(UNKNOWN, "gamma", "not closed")
    if not outcome_prices or len(outcome_prices) != 2:
        return Label(UNKNOWN, "gamma", f"outcomePrices has {len(outcome_prices or [])} entries")
    if not outcomes or len(outcomes) != 2 or not all(isinstance(o, str) for o in outcomes):
        return Label(UNKNOWN, "gamma", f"outcomes {outcomes!r} are not two names")
    prices = _exact(outcome_prices)
    if prices is None:
        return Label(UNKNOWN, "gamma", f"unparseable outcomePrices {outcome_prices!r}")
    if prices == [Decimal(0), Decimal(0)]:
        return Label(INVALID, "gamma_outcome_prices", "closed with outcomePrices [0, 0]")
    if sorted(prices) != [Decimal(0), Decimal(1)]:
        return Label(UNKNOWN, "gamma", f"closed but not one-hot: {outcome_prices!r}")
    _kind, yes_index, _no_index = map_binary(outcomes)
    winner = prices.index(Decimal(1))
    return Label(YES if winner == yes_index else NO, "gamma_outcome_prices")


def label_from_clob(closed: bool | None, tokens: list[dict], yes_token_id: str, no_token_id: str) -> Label:
    """Label from a CLOB market's `closed` flag and `tokens[{token_id, winner}]`, matched by token id."""
    if not closed:
        return Label(UNKNOWN, "clob", "not closed")
    winners = [str(t.get("token_id")) for t in tokens or [] if isinstance(t, dict) and t.get("winner") is True]
    if len(winners) != 1:
        return Label(UNKNOWN, "clob", f"{len(winners)} tokens marked winner")
    if winners[0] == yes_token_id:
        return Label(YES, "clob_winner")
    if winners[0] == no_token_id:
        return Label(NO, "clob_winner")
    return Label(UNKNOWN, "clob", "winner token matches neither outcome")


def combine(gamma: Label, clob: Label | None) -> Label:
    """Prefer a final Gamma label; fall back to the CLOB winner; a contradiction stays UNKNOWN."""
    if clob is not None and gamma.outcome in (YES, NO) and clob.outcome in (YES, NO) and gamma.outcome != clob.outcome:
        return Label(UNKNOWN, "conflict", f"gamma says {gamma.outcome}, clob says {clob.outcome}")
    if gamma.outcome in FINAL_LABELS:
        return gamma
    if clob is not None and clob.outcome in FINAL_LABELS:
        return clob
    return gamma
