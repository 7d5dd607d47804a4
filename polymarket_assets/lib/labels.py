"""Resolution labels, by the strict rules of DESIGN.md ("Labels and the model").

A market is YES or NO only when it is closed and `outcomePrices` is exactly one-hot, or when the CLOB marks
exactly one token as `winner`. `["0", "0"]` on a closed market is INVALID. Everything else is UNKNOWN and
stays pending: `closed` alone, fractional prices and near-one prices are never enough.

YES and NO name outcomes, never positions: the winning index of `outcomePrices` is looked up in the market's
`outcomes` (a market may list `["No", "Yes"]`), with the same name → side rule as the Gamma parser.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from polymarket_assets.lib.parse_gamma import map_binary

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

YES, NO, INVALID, UNKNOWN = "YES", "NO", "INVALID", "UNKNOWN"
FINAL_LABELS = frozenset({YES, NO, INVALID})


@dataclass(frozen=True)
class Label:
    outcome: str
    source: str
    detail: str = ""


def _exact(values: Iterable[str | float]) -> list[Decimal] | None:
    try:
        return [Decimal(str(v).strip()) for v in values]
    except (InvalidOperation, TypeError, ValueError):
        return None


def label_from_gamma(
    closed: bool | None, outcome_prices: Sequence[str | float] | None, outcomes: Sequence[str] | None
) -> Label:
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
    winners = [
        str(t.get("token_id")) for t in tokens or [] if isinstance(t, dict) and t.get("winner") is True
    ]
    if len(winners) != 1:
        return Label(UNKNOWN, "clob", f"{len(winners)} tokens marked winner")
    if winners[0] == yes_token_id:
        return Label(YES, "clob_winner")
    if winners[0] == no_token_id:
        return Label(NO, "clob_winner")
    return Label(UNKNOWN, "clob", "winner token matches neither outcome")


def combine(gamma: Label, clob: Label | None) -> Label:
    """Prefer a final Gamma label; fall back to the CLOB winner; a contradiction stays UNKNOWN."""
    if (
        clob is not None
        and gamma.outcome in (YES, NO)
        and clob.outcome in (YES, NO)
        and gamma.outcome != clob.outcome
    ):
        return Label(UNKNOWN, "conflict", f"gamma says {gamma.outcome}, clob says {clob.outcome}")
    if gamma.outcome in FINAL_LABELS:
        return gamma
    if clob is not None and clob.outcome in FINAL_LABELS:
        return clob
    return gamma


WS_MARKET_RESOLVED = "ws_market_resolved"


@dataclass(frozen=True)
class WsClaim:
    """What a websocket `market_resolved` claims, as a label (YES/NO, or UNKNOWN with the reason)."""

    outcome: str
    detail: str = ""


def label_from_ws_resolved(
    outcomes: Iterable[str] | None,
    asset_ids: Iterable[str] | None,
    winning_outcome: str | None,
    winning_asset_id: str | None,
) -> WsClaim:
    """The claim of a websocket `market_resolved`, by outcome name with the Gamma parser's name → side rule
    (`map_binary`: index 0 is the yes column of a named binary market). It is provisional: `check_ws_claim` confirms or contradicts it."""
    outcomes, asset_ids = list(outcomes or []), list(asset_ids or [])
    if len(outcomes) != 2:
        return WsClaim(UNKNOWN, f"{len(outcomes)} outcomes")
    if not winning_outcome and not winning_asset_id:
        return WsClaim(UNKNOWN, "no winner named")
    names = [o.strip().lower() for o in outcomes]
    wanted = winning_outcome.strip().lower() if winning_outcome else None
    by_name = names.index(wanted) if wanted in names else None
    by_id = asset_ids.index(winning_asset_id) if winning_asset_id in asset_ids else None
    if by_name is None and by_id is None:
        return WsClaim(UNKNOWN, f"winner {winning_outcome!r} matches no outcome")
    if by_name is not None and by_id is not None and by_name != by_id:
        return WsClaim(UNKNOWN, f"winning_outcome {winning_outcome!r} and winning_asset_id disagree")
    index = by_name if by_name is not None else by_id
    _kind, yes_index, _no_index = map_binary(outcomes)
    return WsClaim(YES if index == yes_index else NO)


def check_ws_claim(strict: Label, claim: str | None) -> Label:
    """The strict label, checked against a websocket claim (YES/NO): a final label that disagrees is UNKNOWN
    (source `conflict`) with the reason; one that agrees says it confirms; a pending one says what was claimed."""
    if claim not in (YES, NO):
        return strict
    if strict.outcome in FINAL_LABELS and strict.outcome != claim:
        return replace(
            strict,
            outcome=UNKNOWN,
            source="conflict",
            detail=f"{WS_MARKET_RESOLVED} says {claim}, {strict.source} says {strict.outcome}",
        )
    note = (
        f"confirms {WS_MARKET_RESOLVED}"
        if strict.outcome in FINAL_LABELS
        else f"{WS_MARKET_RESOLVED} says {claim}, awaiting Gamma/CLOB"
    )
    return replace(strict, detail="; ".join(d for d in (strict.detail, note) if d))
