"""Settings: read from the environment only, validated, and documented in ws_sidecar/README.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ws_sidecar.config import describe, load_config

README = Path(__file__).resolve().parents[1] / "ws_sidecar" / "README.md"


def test_every_setting_is_documented_with_its_default():
    rows = dict(re.findall(r"^\| `([A-Z_]+)` \| (?:`([^|`]*)`)? *\|", README.read_text(), flags=re.MULTILINE))
    assert rows == {name: default for name, default in describe()}


def test_environment_values_are_typed_and_validated():
    cfg = load_config(
        {
            "PM_DATA_DIR": "/tmp/x",
            "WS_ALWAYS_TIERS": "T3, T4",
            "WS_FILL_BUDGET": "off",
            "WS_ASSETS_PER_CONNECTION": "120",
            "WS_SETTLE_S": "2.5",
        }
    )
    assert (cfg.always_tiers, cfg.fill_budget, cfg.assets_per_connection, cfg.settle_s) == (
        ("T3", "T4"),
        False,
        120,
        2.5,
    )
    assert cfg.status_path == Path("/tmp/x/ws_sidecar/status.json")
    for bad in (
        {"WS_ASSETS_PER_CONNECTION": "501"},
        {"PM_CLOCK": "sim"},
        {"PM_CLOCK": "lunar"},
        {"WS_FILL_BUDGET": "maybe"},
        {"WS_DATA_TIMEOUT_S": "0"},
    ):
        with pytest.raises(ValueError):
            load_config(bad)
