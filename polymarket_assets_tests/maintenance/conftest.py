"""The maintenance tests lay down lake and incoming files with the trades domain's helpers."""

from polymarket_assets_tests.trades.conftest import data_dir  # noqa: F401 - the fixture, re-exported
