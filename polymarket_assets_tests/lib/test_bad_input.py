"""Bad records in API answers cost only themselves: the fault scenarios of `fault_scenarios` against the stub server.

One bad book per `POST /books` answer (timestamps in the wrong unit, bad levels, not an object); NaN, Infinity,
negatives, values above 1, text and non-objects in `/prices` and `/midpoints`; poisoned trade timestamps inside a
Data API walk; negative volumes and impossible observation times from Gamma. Every good record lands, every bad
one is quarantined with its reason, nothing bad is stored.
"""

from __future__ import annotations

import math

import pyarrow as pa
import pytest

from polymarket_assets.defs.snapshots.assets import snapshot_checks
from polymarket_assets.lib.schemas import SNAPSHOT_SCHEMA
from polymarket_assets_tests import fault_scenarios

API_SCENARIOS = [
    fault_scenarios.clob_books,
    fault_scenarios.clob_prices,
    fault_scenarios.data_api_trades,
    fault_scenarios.gamma_markets,
]


@pytest.mark.parametrize("scenario", API_SCENARIOS, ids=lambda s: s.__name__)
def test_every_good_record_lands_and_each_bad_one_is_quarantined(scenario, tmp_path):
    outcome = scenario(tmp_path)
    assert outcome.good_expected > 0 and outcome.bad_injected > 0
    assert outcome.rows_lost == 0, outcome
    assert outcome.bad_quarantined == outcome.bad_injected, outcome
    assert outcome.bad_stored == 0 and outcome.failures == 0, outcome
    assert all(outcome.reasons), outcome


def test_book_reasons_name_the_unit_and_the_fault(tmp_path):
    reasons = set(fault_scenarios.clob_books(tmp_path).reasons)
    assert "timestamp looks like epoch microseconds (16 digits), expected epoch milliseconds" in reasons
    assert "timestamp looks like epoch seconds (10 digits), expected epoch milliseconds" in reasons
    assert "timestamp is more than 86400 s in the future (20 digits)" in reasons
    assert "book must be an object, got str" in reasons


def test_a_poisoned_trade_time_does_not_end_the_data_api_walk(tmp_path):
    # A row stamped 5 (1970) once passed for "older than since_ts" and stopped the walk: the second page was lost.
    outcome = fault_scenarios.data_api_trades(tmp_path)
    assert outcome.good_landed == 12 and "timestamp is before 2020-01-01 (1 digit)" in outcome.reasons


def test_prices_in_unit_interval_rejects_nan():
    row = {name: None for name in SNAPSHOT_SCHEMA.names}
    row.update(condition_id="0x1", slot_ts=None, best_bid=math.nan, best_ask=0.5)
    verdicts = {
        c.check_name: c
        for c in snapshot_checks(pa.Table.from_pylist([row], schema=SNAPSHOT_SCHEMA), 1, [], 0.5)
    }
    assert not verdicts["prices_in_unit_interval"].passed
    assert verdicts["prices_in_unit_interval"].metadata["out_of_range_values"].value == 1


def test_no_rows_lost_says_when_rows_are_missing_or_records_were_quarantined():
    row = {name: None for name in SNAPSHOT_SCHEMA.names}
    table = pa.Table.from_pylist(
        [{**row, "condition_id": "0x1", "best_bid": 0.4, "best_ask": 0.5}], schema=SNAPSHOT_SCHEMA
    )
    lost = {c.check_name: c for c in snapshot_checks(table, 3, [], 0.5, quarantined=2)}["no_rows_lost"]
    assert (
        not lost.passed
        and lost.metadata["rows_lost"].value == 2
        and lost.metadata["records_quarantined"].value == 2
    )
    assert {c.check_name: c for c in snapshot_checks(table, 1, [], 0.5)}["no_rows_lost"].passed
