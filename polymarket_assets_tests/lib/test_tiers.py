"""Tier assignment, slot instants and exact transition instants."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polymarket_assets.lib.tiers import (
    DEFAULT_PLAN,
    TierPlan,
    assign_tier,
    instants_in_window,
    slot_instants,
    transitions_between,
)

NOW = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("hours", "tier"),
    [
        (100, "T0"),
        (48.01, "T0"),
        (48, "T1"),
        (12.5, "T1"),
        (12, "T2"),
        (4.5, "T2"),
        (4, "T3"),
        (1.5, "T3"),
        (1, "T4"),
        (0.1, "T4"),
        (-3, "T4"),
        (-23.9, "T4"),
        (-24, "STALE"),
        (-200, "STALE"),
    ],
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


def test_the_stale_tier_is_a_field_of_the_plan_not_a_name():
    renamed = TierPlan(tiers=(*DEFAULT_PLAN.live, replace(DEFAULT_PLAN.stale_tier, name="LATE")))
    assert assign_tier(NOW - timedelta(hours=30), NOW, renamed) == "LATE"
    changes = transitions_between(NOW + timedelta(hours=2), NOW, NOW + timedelta(hours=30), renamed)
    assert [c[1:] for c in changes] == [("T3", "T4", 1.0), ("T4", "LATE", -24.0)]
    # Without a stale tier, a market past endDate stays in the tier that reaches below zero hours.
    unstaled = TierPlan(tiers=DEFAULT_PLAN.live)
    assert assign_tier(NOW - timedelta(hours=300), NOW, unstaled) == "T4"
    changes = transitions_between(NOW + timedelta(hours=2), NOW, NOW + timedelta(hours=30), unstaled)
    assert [c[1:] for c in changes] == [("T3", "T4", 1.0)]


def test_plan_rejects_clashing_names_and_two_stale_tiers():
    t0, stale = DEFAULT_PLAN.by_name("T0"), DEFAULT_PLAN.by_name("STALE")
    with pytest.raises(ValueError, match="names"):
        TierPlan(tiers=(t0, replace(t0, name="t0")))
    with pytest.raises(ValueError, match="stale"):
        TierPlan(tiers=(t0, stale, replace(stale, name="STALE2")))


def test_what_others_read_from_the_default_plan():
    assert DEFAULT_PLAN.asset_names == (
        "snapshots_t0",
        "snapshots_t1",
        "snapshots_t2",
        "snapshots_t3",
        "snapshots_t4",
        "snapshots_stale",
    )
    assert [t.name for t in DEFAULT_PLAN.live] == ["T0", "T1", "T2", "T3", "T4"]
    assert DEFAULT_PLAN.stale_tier.name == "STALE"
    assert DEFAULT_PLAN.ws_always_tiers == ("T2", "T3", "T4")
    assert DEFAULT_PLAN.ws_fill_order == ("T1", "T0", "STALE")
    assert DEFAULT_PLAN.names_beyond(1.0) == ("T0", "T1", "T2", "T3")
    assert DEFAULT_PLAN.names_within(48.0) == ("T1", "T2", "T3", "T4")
    # T0 1 + T1 12 + T2 60 + T3 120 + T4 240 + STALE 1.
    assert DEFAULT_PLAN.instants_per_hour == 434
