"""The taker fee of Fee Structure V2 (polymarket_api.md §9.7), against cases computed by hand."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polymarket_assets.lib.errors import ParseError
from polymarket_assets.lib.fees import FeeSchedule, parse_fee_schedule, round_fee, taker_fee
from polymarket_assets.lib.parse_gamma import parse_gamma_market
from polymarket_assets.lib.ws_messages import parse_ws_frame
from polymarket_assets_tests.samples import SAMPLES_DIR

SAMPLES = SAMPLES_DIR
CRYPTO = FeeSchedule(rate=0.07, exponent=1, taker_only=True, rebate_rate=0.2)
POLITICS = FeeSchedule(rate=0.04, exponent=1, taker_only=True, rebate_rate=0.25)


@pytest.mark.parametrize(
    ("size", "price", "schedule", "expected"),
    [
        # 100 × 0.07 × 0.5 × 0.5 = 1.75
        (100, 0.5, CRYPTO, 1.75),
        # 10 × 0.04 × 0.3 × 0.7 = 0.084
        (10, 0.3, POLITICS, 0.084),
        # symmetric in p and 1 - p
        (10, 0.7, POLITICS, 0.084),
        # 12.5 × 0.04 × 0.37 × 0.63 = 0.11655
        (12.5, 0.37, POLITICS, 0.11655),
        # the docs' last_trade_price sample under the crypto schedule:
        # 219.217767 × 0.07 × 0.456 × 0.544 = 3.80660253… → 3.80660
        (219.217767, 0.456, CRYPTO, 3.8066),
        # early-2026 crypto 5/15-min schedule: 100 × 0.25 × (0.5 × 0.5)² = 1.5625
        (100, 0.5, FeeSchedule(rate=0.25, exponent=2), 1.5625),
        # early-2026 NCAAB: 50 × 0.0175 × 0.6 × 0.4 = 0.21
        (50, 0.6, FeeSchedule(rate=0.0175, exponent=1), 0.21),
        # rounding to 5 decimals: 1 × 0.04 × 0.01 × 0.99 = 0.000396 → 0.0004
        (1, 0.01, POLITICS, 0.0004),
        # 1 × 0.03 × 0.001 × 0.999 = 0.00002997 → 0.00003
        (1, 0.001, FeeSchedule(rate=0.03), 0.00003),
        # half-up at the last digit: 0.0005 × 0.04 × 0.25 = 0.000005 → 0.00001
        (0.0005, 0.5, POLITICS, 0.00001),
        # below half a unit: 0.0001 × 0.04 × 0.25 = 0.000001 → 0
        (0.0001, 0.5, POLITICS, 0.0),
        # a certain price costs nothing
        (100, 1.0, CRYPTO, 0.0),
    ],
)
def test_taker_fee_hand_computed(size, price, schedule, expected):
    assert taker_fee(size, price, schedule) == expected


def test_makers_and_fee_free_markets_pay_nothing():
    assert taker_fee(100, 0.5, CRYPTO, maker=True) == 0.0
    assert taker_fee(100, 0.5, CRYPTO, fees_enabled=False) == 0.0
    assert taker_fee(100, 0.5, None) == 0.0
    # geopolitics: fee-free
    assert taker_fee(100, 0.5, FeeSchedule(rate=0.0)) == 0.0


def test_a_price_outside_the_unit_interval_is_an_error():
    with pytest.raises(ValueError, match="outside"):
        taker_fee(1, 1.2, CRYPTO)


def test_schedules_parse_in_both_spellings_and_reject_nonsense():
    gamma = parse_fee_schedule({"exponent": 1, "rate": 0.04, "takerOnly": True, "rebateRate": 0.25})
    ws = parse_fee_schedule(
        {"exponent": 1, "rate": "0.04", "taker_only": True, "rebate_rate": "0.25"}, "fee_schedule"
    )
    assert gamma == ws == POLITICS
    assert parse_fee_schedule(None) is None
    for bad in ({"exponent": 1}, {"rate": -0.1}, {"rate": 2}, "0.04", {"rate": 0.04, "takerOnly": "maybe"}):
        with pytest.raises(ParseError):
            parse_fee_schedule(bad)


def test_real_gamma_sample_carries_its_schedule():
    obj = json.loads(
        (
            SAMPLES / "gamma_market_btc_updown_5m_twap_feeschedule_2026-08-22_TRIMMED_TRANSCRIBED.json"
        ).read_text()
    )
    market = parse_gamma_market(obj)
    assert market.fee_schedule == CRYPTO
    # No `feesEnabled` in this sample: a non-zero schedule means fees are on.
    assert market.fees_enabled is True
    # A market without fee fields (2025 samples) has none.
    old = json.loads((SAMPLES / "gamma_market_closed_resolved_yes_ukraine_ceasefire.json").read_text())
    parsed = parse_gamma_market(old[0] if isinstance(old, list) else old)
    assert parsed.fee_schedule is None


def test_ws_new_market_fee_schedule_is_parsed():
    msg = json.loads((SAMPLES / "docs_example_ws_new_market.json").read_text())
    assert parse_ws_frame(json.dumps(msg))[0].fee_schedule is None
    msg["fees_enabled"] = True
    msg["fee_schedule"] = {"exponent": 1, "rate": 0.07, "taker_only": True, "rebate_rate": 0.2}
    event = parse_ws_frame(json.dumps(msg))[0]
    assert (event.fees_enabled, event.fee_schedule) == (True, CRYPTO)


@given(
    size=st.floats(0, 1e6, allow_nan=False),
    price=st.floats(0, 1, allow_nan=False),
    rate=st.floats(0, 0.25, allow_nan=False),
    exponent=st.sampled_from([1, 2]),
)
def test_fee_properties(size, price, rate, exponent):
    schedule = FeeSchedule(rate=rate, exponent=exponent)
    fee = taker_fee(size, price, schedule)
    assert fee >= 0
    assert fee <= size * rate * 0.25**exponent + 0.000005 + 1e-9
    assert (
        fee == taker_fee(size, 1 - price, schedule)
        or abs(fee - taker_fee(size, 1 - price, schedule)) <= 0.00001
    )
    assert fee == round_fee(fee)
