"""Tier assignment, slot instants and exact transition instants."""

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polymarket_assets.lib.tiers import (
    DEFAULT_PLAN,
    assign_tier,
    instants_in_window,
    slot_instants,
    transitions_between,
)

NOW = datetime(2026, 11, 25, 7, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("hours", "tier"),
    [(100, "T0"), (48.01, "T0"), (48, "T1"), (12.5, "T1"), (12, "T2"), (4.5, "T2"), (4, "T3"), (1.5, "T3"),
     (1, "T4"), (0.1, "T4"), (-3, "T4"), (-23.9, "T4"), (-24, "STALE"), (-200, "STALE")],
)
def test_tier_boundaries_follow_design(hours, tier):
    assert assign_tier(NOW + timedelta(hours=hours), NOW) == tier


def test_market_without_end_date_is_swept_hourly():
    assert assign_tier(None, NOW) == "T0"


def test_sub_minute_tiers_sweep_several_instants_per_slot():
    t4, t3, t2 = (DEFAULT_PLAN.by_name(n) for n in ("T4", "T3", "T2"))
    assert [i.second for i in slot_instants(t4, NOW)] == [0, 15, 30, 45]
    assert [i.second for i in slot_instants(t3, NOW)] == [0, 30]
    assert slot_instants(t2, NOW) == [NOW]


def test_instants_in_window_are_aligned_and_half_open():
    t1 = DEFAULT_PLAN.by_name("T1")
    instants = instants_in_window(t1, NOW + timedelta(seconds=1), NOW + timedelta(hours=1))
    assert instants[0] == NOW + timedelta(minutes=5)
    assert instants[-1] == NOW + timedelta(minutes=55)
    assert len(instants_in_window(DEFAULT_PLAN.by_name("T4"), NOW, NOW + timedelta(hours=1))) == 240


@given(
    end_offset_h=st.floats(min_value=-60, max_value=120, allow_nan=False),
    span_h=st.floats(min_value=0.01, max_value=100, allow_nan=False),
)
def test_transitions_chain_from_the_old_tier_to_the_new(end_offset_h, span_h):
    end = NOW + timedelta(hours=end_offset_h)
    until = NOW + timedelta(hours=span_h)
    changes = transitions_between(end, NOW, until)
    tier = assign_tier(end, NOW)
    for instant, old, new, hours in changes:
        assert NOW < instant <= until
        assert old == tier and new != old
        assert assign_tier(end, instant) == new
        assert abs((end - instant).total_seconds() / 3600 - hours) < 1e-6
        tier = new
    assert tier == assign_tier(end, until)
