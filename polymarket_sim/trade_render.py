"""One trade in its three wire forms: WS last_trade_price, Data API row, and the control API's truth row."""

from __future__ import annotations

import functools

from . import names
from .fees import fee_rate_bps
from .fmt import fmt_micro, fmt_milli


@functools.lru_cache(maxsize=50_000)
def _trader(wallet: int, seed: int) -> dict:
    return names.trader(wallet, seed)


def ws_last_trade(tr) -> dict:
    return {
        "asset_id": tr.asset_id,
        "event_type": "last_trade_price",
        "fee_rate_bps": fee_rate_bps(tr.market),
        "market": tr.market.condition_id,
        "price": fmt_milli(tr.price),
        "side": tr.side,
        "size": fmt_micro(tr.size),
        "timestamp": str(tr.t_ms),
    }


def data_api_row(tr, seed: int) -> dict:
    m = tr.market
    who = _trader(tr.wallet, seed)
    return {
        "proxyWallet": who["proxyWallet"],
        "side": tr.side,
        "asset": tr.asset_id,
        "conditionId": m.condition_id,
        "size": tr.size / 1e6,
        "price": tr.price / 1000.0,
        "timestamp": tr.t_ms // 1000,
        "title": m.question,
        "slug": m.slug,
        "icon": m.image,
        "eventSlug": m.event.slug,
        "outcome": m.outcomes[tr.token_index],
        "outcomeIndex": m.listed_index(tr.token_index),
        "name": who["name"],
        "pseudonym": who["pseudonym"],
        "bio": who["bio"],
        "profileImage": who["profileImage"],
        "profileImageOptimized": who["profileImageOptimized"],
        "transactionHash": tr.tx_hash,
    }


def truth_row(tr, seed: int) -> dict:
    m = tr.market
    return {
        "gamma_id": str(m.gid),
        "condition_id": m.condition_id,
        "asset_id": tr.asset_id,
        "token_index": tr.token_index,
        "outcome": m.outcomes[tr.token_index],
        "outcome_index": m.listed_index(tr.token_index),
        "side": tr.side,
        "price": fmt_milli(tr.price),
        "size": fmt_micro(tr.size),
        "price_num": tr.price / 1000.0,
        "size_num": tr.size / 1e6,
        "notional_usd": tr.notional,
        "whale": tr.notional >= 1000.0,
        "timestamp_ms": tr.t_ms,
        "timestamp": tr.t_ms // 1000,
        "fee_rate_bps": fee_rate_bps(tr.market),
        "transactionHash": tr.tx_hash,
        "proxyWallet": _trader(tr.wallet, seed)["proxyWallet"],
    }
