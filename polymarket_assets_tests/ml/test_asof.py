"""The numpy as-of primitives against plain Python definitions, on generated data."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polymarket_assets.lib.ml.asof import MISSING, KeySpace, expand, last_at_or_before, prefix_sums, take

BASE = 1_700_000_000_000_000

records = st.lists(
    st.tuples(st.integers(0, 5), st.integers(0, 10_000), st.integers(-1_000_000, 1_000_000)), max_size=60
)
queries = st.lists(st.tuples(st.integers(0, 6), st.integers(0, 12_000)), max_size=40)


def _sorted(space, rows):
    rows = sorted(rows, key=lambda r: (r[0], r[1]))
    market = np.array([r[0] for r in rows], dtype=np.int64)
    time = np.array([BASE + r[1] for r in rows], dtype=np.int64)
    value = np.array([r[2] for r in rows], dtype=np.int64)
    return rows, market, space.keys(market, time), value


@settings(max_examples=200, deadline=None)
@given(records, queries)
def test_last_at_or_before_is_the_latest_record_of_the_same_market(rows, asks):
    space = KeySpace.covering(8, BASE, BASE + 20_000)
    rows, market, keys, _ = _sorted(space, rows)
    q_market = np.array([q[0] for q in asks], dtype=np.int64)
    q_time = np.array([BASE + q[1] for q in asks], dtype=np.int64)
    found = last_at_or_before(keys, market, space.keys(q_market, q_time), q_market)
    for (m, t), index in zip(asks, found):
        candidates = [i for i, r in enumerate(rows) if r[0] == m and r[1] <= t]
        if not candidates:
            assert index == MISSING
        else:
            # the last one in sorted order: the latest time, and among equal times the last stored
            assert index == candidates[-1]


@settings(max_examples=200, deadline=None)
@given(records, queries, st.integers(0, 5_000))
def test_window_sums_from_prefix_sums_are_exact(rows, asks, width):
    space = KeySpace.covering(8, BASE - 10_000, BASE + 20_000)
    rows, _, keys, value = _sorted(space, rows)
    prefix = prefix_sums(value)
    q_market = np.array([q[0] for q in asks], dtype=np.int64)
    q_time = np.array([BASE + q[1] for q in asks], dtype=np.int64)
    high = np.searchsorted(keys, space.keys(q_market, q_time), side="right")
    low = np.searchsorted(keys, space.keys(q_market, q_time - width), side="right")
    for (m, t), got in zip(asks, prefix[high] - prefix[low]):
        assert got == sum(r[2] for r in rows if r[0] == m and t - width < r[1] <= t)


def test_times_before_the_base_are_clamped_and_times_beyond_the_top_refused():
    space = KeySpace.covering(4, BASE, BASE + 1000)
    assert (
        space.keys(np.array([1]), np.array([BASE - 50]))[0] == space.keys(np.array([1]), np.array([BASE]))[0]
    )
    with pytest.raises(ValueError, match="beyond"):
        space.keys(np.array([1]), np.array([BASE + 5000]))
    with pytest.raises(ValueError, match="do not fit"):
        KeySpace.covering(2**40, BASE, BASE + 10**12)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(-1, 4), max_size=30),
    st.lists(st.tuples(st.integers(0, 4), st.integers(0, 99)), max_size=30),
)
def test_expand_pairs_every_row_with_every_member_of_its_group(groups, members):
    groups = np.array(groups, dtype=np.int64)
    member_group = np.array([m[0] for m in members], dtype=np.int64)
    member_value = np.array([m[1] for m in members], dtype=np.int64)
    row, value = expand(groups, member_group, member_value)
    expected = [(i, v) for i, g in enumerate(groups) if g != MISSING for gg, v in members if gg == g]
    assert list(zip(row.tolist(), value.tolist())) == expected


def test_take_fills_missing_indices():
    got = take(np.array([1.5, 2.5]), np.array([1, MISSING, 0]))
    assert got[0] == 2.5 and np.isnan(got[1]) and got[2] == 1.5
