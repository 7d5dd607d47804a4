"""Programmatic shape comparison against the real payloads in polymarket_assets_tests/real_samples.

Rules, per object kind:
  1. every key the simulator sends appears in at least one real sample of that kind;
  2. every key present in *all* real samples of that kind is sent by the simulator;
  3. a key's JSON type (string / number / bool / null / array / object) is one seen in the samples.
Deliberate exceptions live in ALLOWED_DIFFERENCES, each with its reason; nothing else is tolerated.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from polymarket_assets_tests.samples import SAMPLES_DIR

SAMPLES = Path(os.environ.get("PM_SAMPLES_DIR", SAMPLES_DIR))

# (kind, key) -> why the simulator differs from the real samples on purpose.
ALLOWED_DIFFERENCES: dict[tuple[str, str], str] = {
    (
        "ws_book",
        "tick_size",
    ): "2026 real captures add tick_size to WS book (polymarket_api.md §4.3); the 2024 sample predates it",
    (
        "ws_book",
        "last_trade_price",
    ): "2026 real captures add last_trade_price to WS book (§4.3); the 2024 sample predates it",
    (
        "ws_new_market",
        "fees_enabled",
    ): "2026 captures carry the market's fees (polymarket_api.md §4.3, [HF-SCHEMA]); "
    "the docs example predates them",
    (
        "ws_new_market",
        "fee_schedule",
    ): "2026 captures carry fee_schedule{exponent, rate, taker_only, rebate_rate} "
    "(§4.3, §9.7); the docs example predates it",
    (
        "ws_market_resolved",
        "fees_enabled",
    ): "market_resolved is new_market plus the winner (§4.3): same fee fields",
    (
        "ws_market_resolved",
        "fee_schedule",
    ): "market_resolved is new_market plus the winner (§4.3): same fee fields",
    (
        "gamma_event",
        "closedTime",
    ): 'closed events carry closedTime ("2024-11-06T20:40:10Z", polymarket_api.md §0, '
    "from a resolved-event capture not shipped in the samples); every shipped event "
    "sample is open",
}


def json_type(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def load(name: str):
    with open(SAMPLES / name) as fh:
        return json.load(fh)


def census(samples: list[dict]) -> tuple[set, set, dict]:
    union: set = set()
    inter: set | None = None
    types: dict = {}
    for s in samples:
        keys = set(s)
        union |= keys
        inter = keys if inter is None else inter & keys
        for k, v in s.items():
            types.setdefault(k, set()).add(json_type(v))
    return union, inter or set(), types


USED_ALLOWANCES: set = set()


def compare(kind: str, sim_objects: list[dict], samples: list[dict]) -> list[str]:
    """Return a list of human-readable problems (empty = shapes agree)."""
    union, inter, types = census(samples)
    problems = []
    for i, obj in enumerate(sim_objects):
        for k, v in obj.items():
            if (kind, k) in ALLOWED_DIFFERENCES:
                if k not in union:
                    USED_ALLOWANCES.add((kind, k))
                continue
            if k not in union:
                problems.append(f"{kind}[{i}]: extra key {k!r}")
            elif json_type(v) not in types[k]:
                problems.append(f"{kind}[{i}]: {k!r} is {json_type(v)}, real samples have {sorted(types[k])}")
        for k in inter:
            if k not in obj and (kind, k) not in ALLOWED_DIFFERENCES:
                problems.append(f"{kind}[{i}]: missing key {k!r} present in every real sample")
    return problems
