"""Partitions begin when this deployment began recording, so a "missing" partition is a real gap."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from polymarket_assets.lib.collection_start import (
    SETTING,
    collection_start,
    first_discovery_hour,
    parse_start,
)
from polymarket_assets.lib.parquet_store import Lake

NOW = datetime(2026, 12, 5, 23, 41, 7, tzinfo=UTC)


def _discovery(data_dir, date: str, hour: str) -> None:
    Lake(data_dir).write(
        "market_states", pa.table({"condition_id": ["c"]}), {"date": date, "hour": hour}, "d"
    )


def test_fresh_install_starts_at_the_current_hour(tmp_path):
    assert collection_start({"PM_DATA_DIR": str(tmp_path)}, now=NOW) == datetime(2026, 12, 5, 23, tzinfo=UTC)


def test_first_discovery_in_the_lake_sets_the_start(tmp_path):
    _discovery(tmp_path, "2026-12-02", "14")
    _discovery(tmp_path, "2026-12-01", "07")
    _discovery(tmp_path, "2026-12-01", "09")
    (tmp_path / "lake" / "market_states" / "date=2026-11-30" / "hour=03").mkdir(
        parents=True
    )  # no file: not a discovery
    assert first_discovery_hour(tmp_path) == datetime(2026, 12, 1, 7, tzinfo=UTC)
    assert collection_start({"PM_DATA_DIR": str(tmp_path)}, now=NOW) == datetime(2026, 12, 1, 7, tzinfo=UTC)


def test_the_setting_wins_over_the_lake(tmp_path):
    _discovery(tmp_path, "2026-12-01", "07")
    env = {"PM_DATA_DIR": str(tmp_path), SETTING: "2026-11-20"}
    assert collection_start(env, now=NOW) == datetime(2026, 11, 20, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-20T06",
        "2026-11-20T06:00",
        "2026-11-20-06:00",
        "2026-11-20T06:45:10Z",
        "2026-11-20T08:10+02:00",
    ],
)
def test_setting_forms_floor_to_the_hour(text):
    assert parse_start(text) == datetime(2026, 11, 20, 6, tzinfo=UTC)


@given(st.text(max_size=20))
def test_a_bad_setting_is_a_clear_error_never_a_silent_default(text):
    try:
        parsed = parse_start(text)
    except ValueError as exc:
        assert SETTING in str(exc)
    else:
        assert parsed.tzinfo is not None and parsed.minute == parsed.second == parsed.microsecond == 0


def test_the_code_location_partitions_start_at_the_first_discovery(tmp_path):
    """Loaded as the code server loads it: a lake whose first discovery was 2026-12-01 07:00 UTC."""
    _discovery(tmp_path, "2026-12-01", "07")
    probe = (
        "import json; from polymarket_assets.definitions import defs; d = defs(); "
        "h = d.resolve_assets_def('snapshots_t4').partitions_def; m = d.resolve_assets_def('features').partitions_def; "
        "print(json.dumps([h.get_first_partition_key(), m.get_first_partition_key()]))"
    )
    env = {k: v for k, v in os.environ.items() if k != SETTING}
    env.update(PM_DATA_DIR=str(tmp_path), DAGSTER_HOME=str(tmp_path / "home"), PYTHONPATH=os.getcwd())
    (tmp_path / "home").mkdir()
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == ["2026-12-01-07:00", "2026-12-01"]
