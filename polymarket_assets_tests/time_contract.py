"""Test helpers for the time contract (``parse_common.time_window``): docs examples with placeholder times."""

from __future__ import annotations

import pytest

from polymarket_assets.lib.parse_common import TimeWindow, set_time_window

# These docs examples carry placeholder timestamps ("123456789000", "100000000": 1973), which the time contract
# rejects as it should. Tests that use them for their shape widen the window to the epoch.
PLACEHOLDER_TIME_SAMPLES = frozenset({"docs_example_ws_book.json", "docs_example_ws_tick_size_change.json"})


@pytest.fixture
def placeholder_times():
    set_time_window(TimeWindow(min_ms=0))
    try:
        yield
    finally:
        set_time_window(None)
