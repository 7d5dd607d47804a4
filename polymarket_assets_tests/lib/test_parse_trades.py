"""parse_data_api_trade on the real sample, v2 rows, bad rows, and the dedup key."""

from __future__ import annotations

import pytest

from polymarket_assets.lib.errors import ParseError
from polymarket_assets.lib.parse_trades import parse_data_api_trade, trade_dedup_key
from polymarket_assets_tests.lib.conftest import load_sample

ROWS = load_sample("data_api_trades_2026-03-22.json")


def test_real_trades_parse_with_usd_notional():
    trades = [parse_data_api_trade(r) for r in ROWS]
    first, _, third = trades
    assert first.asset_id == "22943400237250229318795315882775337816951160275867284205243766113690886285726"
    assert first.condition_id == "0xba3509c3c29a52bb2f8cf8204755314a38461825e61e77e6350f5abd4b848e05"
    assert (first.side, first.size, first.price, first.timestamp) == ("BUY", 3.28888, 0.9, 1774166009)
    assert first.notional_usd == pytest.approx(2.959992)
    assert (first.outcome, first.outcome_index) == ("Down", 1)
    assert first.transaction_hash == "0x80e71829e69e94d57052689c2f7ca654d04720461d2961af61a403bafd62308c"
    assert first.proxy_wallet == "0x9fb96c5cf2027d0ce8e0e92fc30b52e81f001866"
    assert first.event_slug == "btc-updown-5m-1774165800"
    # 34 shares at ~0.90: ~$30.70, the number whale logic must use.
    assert third.side == "SELL" and third.notional_usd == pytest.approx(30.7)
    assert len({trade_dedup_key(t) for t in trades}) == 3


def test_v2_snake_case_rows():
    row = {
        "token_id": "5" * 77,
        "condition_id": "0x" + "AB" * 32,
        "side": "sell",
        "size": "10",
        "price": "0.02",
        "timestamp": "1774166009",
        "outcome_index": 0,
        "transaction_hash": "0x1",
        "proxy_wallet": "0x2",
    }
    t = parse_data_api_trade(row)
    assert (t.asset_id, t.side, t.notional_usd, t.timestamp) == (
        "5" * 77,
        "SELL",
        pytest.approx(0.2),
        1774166009,
    )
    assert t.condition_id == "0x" + "ab" * 32  # lower-cased for joins
    assert (t.transaction_hash, t.proxy_wallet, t.outcome_index) == ("0x1", "0x2", 0)


def test_dedup_key_separates_fills_of_one_transaction():
    a = parse_data_api_trade(ROWS[0])
    b = parse_data_api_trade({**ROWS[0], "size": 1.0})
    assert a.transaction_hash == b.transaction_hash
    assert trade_dedup_key(a) != trade_dedup_key(b)
    assert trade_dedup_key(a) == trade_dedup_key(parse_data_api_trade(dict(ROWS[0])))


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"price": 1.5}, "price"),
        ({"size": -3}, "negative"),
        ({"side": "HOLD"}, "BUY or SELL"),
        ({"asset": 2.29e76}, "asset"),
        ({"conditionId": "0xnothex"}, "conditionId"),
        ({"timestamp": 1774166009000}, "milliseconds"),
        ({"timestamp": None}, "missing timestamp"),
        ({"outcomeIndex": -1}, "outcomeIndex"),
        ({"size": "lots"}, "size"),
    ],
)
def test_bad_trades_raise_parse_error(change, reason):
    with pytest.raises(ParseError, match=reason):
        parse_data_api_trade({**ROWS[0], **change})


NASTY = [
    None,
    True,
    False,
    0,
    -1,
    10**400,
    1e308,
    float("nan"),
    "",
    "x",
    "-0",
    ".5",
    "1e999",
    "9" * 90,
    [],
    {},
    "[" * 3000,
    "\ud800",
]


@pytest.mark.parametrize("key", sorted(ROWS[0]))
def test_every_field_with_every_nasty_value_raises_only_parse_error(key):
    for value in NASTY:
        try:
            parse_data_api_trade({**ROWS[0], key: value})
        except ParseError:
            pass
    with pytest.raises(ParseError):
        parse_data_api_trade("not a row")
