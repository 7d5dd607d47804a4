"""`incoming_files_sensor` against what a hostile or broken writer can leave in `incoming/`.

Property: whatever names, keys, symlinks and bodies sit beside the recorder's own files, a tick never raises,
every real file is handed to exactly one run over the following ticks, every hostile entry is moved to
`quarantine/incoming_files/` with a quarantine row, and a file written afterwards is still picked up (the
cursor was not wedged). Plus batching: files wait for their window and the cursor never passes them.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polymarket_assets.defs.resources import LakeResource
from polymarket_assets.defs.trades import sensors
from polymarket_assets.defs.trades.sensors import incoming_files_sensor
from polymarket_assets.lib.incoming import KINDS, NAME_RE, day_of_ms, file_name, incoming_root
from polymarket_assets.lib.trades.ingest import QUARANTINED_FILES_DIR, QUARANTINED_SUFFIX

from .conftest import HOUR, write, ws_trade

GOOD_HOUR = "20261124T10"  # HOUR's tag: a past hour whose partition exists
RUN = "0a1b2c3d"

IMPOSSIBLE_HOURS = st.sampled_from(
    ["20261399T99", "20261124T24", "20260230T10", "00000000T00", "20261301T00"]
)
FAR_FUTURE_KEYS = st.integers(min_value=4_102_444_800_000, max_value=9_999_999_999_999)  # 2100 onwards
OUT_OF_RANGE_HOURS = st.sampled_from(["20190101T00", "19700101T00", "20990101T00", "99991231T23"])
BODIES = st.binary(max_size=64)


@st.composite
def hostile_entries(draw):
    """(how, name fields) of one entry a broken or hostile writer left."""
    how = draw(
        st.sampled_from(["impossible_hour", "future_key", "out_of_range_hour", "symlink", "weird_body"])
    )
    kind = draw(st.sampled_from(KINDS))
    seq = draw(st.integers(min_value=0, max_value=99_999_999))
    ms = -draw(st.integers(min_value=1, max_value=3_600_000))  # relative to now, resolved when placed
    hour = GOOD_HOUR
    if how == "impossible_hour":
        hour = draw(IMPOSSIBLE_HOURS)
    elif how == "future_key":
        ms = draw(FAR_FUTURE_KEYS)
    elif how == "out_of_range_hour":
        hour = draw(OUT_OF_RANGE_HOURS)
    return how, kind, hour, ms, seq, draw(BODIES)


def place(
    data_dir: Path, how: str, kind: str, hour: str, ms: int, seq: int, body: bytes, outside: Path
) -> Path:
    if ms < 0:
        ms += time.time_ns() // 1_000_000
    name = f"{kind}-{hour}-{ms:013d}-{seq:08d}-{RUN}.parquet"
    assert NAME_RE.fullmatch(name), name
    day = incoming_root(data_dir) / kind / f"day={day_of_ms(min(ms, 253_402_300_799_000))}"
    day.mkdir(parents=True, exist_ok=True)
    path = day / name
    if how == "symlink":
        path.unlink(missing_ok=True)
        os.symlink(outside, path)
    else:
        path.write_bytes(body)
    return path


def tick(data_dir: Path, instance, cursor: str | None) -> dg.SensorResult:
    context = dg.build_sensor_context(
        cursor=cursor, instance=instance, resources={"lake": LakeResource(data_dir=str(data_dir))}
    )
    return incoming_files_sensor(context)


def handed(result: dg.SensorResult) -> list[str]:
    return [
        f
        for r in result.run_requests or []
        for op in r.run_config.get("ops", {}).values()
        for f in op["config"]["files"]
    ]


def ingest_runs(result: dg.SensorResult) -> list[dg.RunRequest]:
    return [r for r in result.run_requests or [] if r.job_name == "ws_ingest_job"]


def quarantine_rows(data_dir: Path) -> list[dict]:
    parts = sorted((data_dir / "quarantine").glob("source=ws_ingest/*/*.parquet"))
    return [row for p in parts for row in pq.read_table(p).to_pylist()]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=st.lists(hostile_entries(), min_size=1, max_size=6), symlinked_day=st.booleans())
def test_hostile_entries_never_raise_never_wedge_and_are_quarantined_visibly(entries, symlinked_day):
    with tempfile.TemporaryDirectory() as tmp, dg.DagsterInstance.ephemeral() as instance:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        outside = Path(tmp) / "secret.parquet"
        outside.write_bytes(b"never read")
        [good] = write(data_dir, "trades", [ws_trade("a", HOUR * 1000 + 1)])
        expected = {f"trades/{good.parent.name}/{good.name}"}
        hostile = []
        for i, (how, kind, hour, ms, seq, body) in enumerate(entries):
            seq = seq - seq % 100 + i  # one name per entry: two entries never fight over one path
            path = place(data_dir, how, kind, hour, ms, seq, body, outside)
            rel = f"{kind}/{path.parent.name}/{path.name}"
            if how == "weird_body":
                expected.add(rel)  # a real name: handed to a run, whose validation quarantines the body
            else:
                hostile.append(rel)
        if symlinked_day:
            os.symlink(good.parent, incoming_root(data_dir) / "trades" / "day=2026-01-01")
            hostile.append("trades/day=2026-01-01")

        seen: list[str] = []
        cursor = None
        for _ in range(3):
            result = tick(data_dir, instance, cursor)
            seen += handed(result)
            cursor = result.cursor or cursor
        assert sorted(seen) == sorted(expected), "every real file once, no hostile one"
        for rel in set(hostile):
            assert not os.path.lexists(incoming_root(data_dir) / rel), f"{rel} left in incoming/"
        moved = {
            str(p.relative_to(data_dir.joinpath(*QUARANTINED_FILES_DIR)))
            for p in data_dir.joinpath(*QUARANTINED_FILES_DIR).rglob("*" + QUARANTINED_SUFFIX)
        }
        assert {rel + QUARANTINED_SUFFIX for rel in hostile} <= moved
        rows = quarantine_rows(data_dir)
        assert len(rows) >= len(set(hostile)) and all(r["reason"] for r in rows)
        assert outside.read_bytes() == b"never read"

        # Not wedged: a file written after all that is handed over at the next tick.
        [later] = write(data_dir, "trades", [ws_trade("b", HOUR * 1000 + 2)])
        assert handed(tick(data_dir, instance, cursor)) == [f"trades/{later.parent.name}/{later.name}"]


def test_a_cursor_left_in_the_future_by_an_older_sensor_is_reset(data_dir):
    [good] = write(data_dir, "trades", [ws_trade("a", HOUR * 1000 + 1)])
    future = '{"v":1,"floor":"4102444800000","done":[]}'  # 2100-01-01
    with dg.DagsterInstance.ephemeral() as instance:
        assert handed(tick(data_dir, instance, future)) == [f"trades/{good.parent.name}/{good.name}"]
        assert handed(tick(data_dir, instance, "not json {")) == [f"trades/{good.parent.name}/{good.name}"]


class FakeTime:
    def __init__(self, ms: int):
        self.ms = ms

    def time_ns(self) -> int:
        return self.ms * 1_000_000


def copy_with_key(body: bytes, data_dir: Path, ms: int, seq: int) -> Path:
    """A trades file of ``body`` under a name carrying key ``ms`` (as if it had been written then)."""
    target = (
        incoming_root(data_dir)
        / "trades"
        / f"day={day_of_ms(ms)}"
        / file_name("trades", GOOD_HOUR, ms, seq, RUN)
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(body)
    return target


def test_files_wait_for_their_batch_window_and_the_cursor_never_passes_them(data_dir, monkeypatch):
    monkeypatch.setenv("PM_INGEST_BATCH_S", "300")
    [template] = write(data_dir, "trades", [ws_trade("a", HOUR * 1000 + 1)])
    window = 300_000
    start = (time.time_ns() // 1_000_000 // window - 2) * window  # two windows ago
    body = template.read_bytes()
    template.unlink()
    early = [
        copy_with_key(body, data_dir, start + i * 10_000, i) for i in range(30)
    ]  # the whole window [start, start+300 s)
    late = [
        copy_with_key(body, data_dir, start + window + i * 10_000, 100 + i) for i in range(5)
    ]  # the next one
    clock = FakeTime(start + window + 60_000)  # one minute into the second window
    monkeypatch.setattr(sensors, "time", clock)
    with dg.DagsterInstance.ephemeral() as instance:
        first = tick(data_dir, instance, None)
        assert len(first.run_requests) == 1
        assert sorted(handed(first)) == sorted(f"trades/{p.parent.name}/{p.name}" for p in early)
        # Ticks inside the open window hand nothing, however long the newest key is ahead of the waiting ones.
        clock.ms += 200_000
        second = tick(data_dir, instance, first.cursor)
        assert not ingest_runs(second)
        cursor = second.cursor or first.cursor
        assert all(sensors.SensorCursor.parse(cursor).is_new(NAME_RE.fullmatch(p.name)["key"]) for p in late)
        clock.ms += 60_000  # the second window has closed
        third = tick(data_dir, instance, cursor)
        assert sorted(handed(third)) == sorted(f"trades/{p.parent.name}/{p.name}" for p in late)
        assert len(third.run_requests) == 1, "one run per partition per window"


def test_health_checks_ride_along_once_per_window_or_run_alone_when_no_file_came(data_dir, monkeypatch):
    from polymarket_assets.defs.trades.checks import health_check_keys

    monkeypatch.setenv("PM_INGEST_BATCH_S", "0")
    window = 300_000
    clock = FakeTime((time.time_ns() // 1_000_000 // window) * window + 1_000)
    monkeypatch.setattr(sensors, "time", clock)
    with dg.DagsterInstance.ephemeral() as instance:
        # No file at all (the recorder is down): the checks run alone, once per window.
        first = tick(data_dir, instance, None)
        [alone] = first.run_requests
        assert alone.job_name == "ws_health_job" and alone.run_key == f"ws_health:{clock.ms - 1_000}"
        clock.ms += 60_000
        assert not tick(data_dir, instance, first.cursor).run_requests
        # Next window, with a file: the checks go with its ingestion run, no run of their own.
        clock.ms += window
        [f] = write(data_dir, "trades", [ws_trade("a", HOUR * 1000 + 1)])
        second = tick(data_dir, instance, first.cursor)
        [run] = second.run_requests
        assert run.job_name == "ws_ingest_job" and set(health_check_keys()) <= set(run.asset_check_keys)
        assert handed(second) == [f"trades/{f.parent.name}/{f.name}"]
        # Another file in the same window: ingested, without the checks again.
        write(data_dir, "trades", [ws_trade("b", HOUR * 1000 + 2)])
        [plain] = tick(data_dir, instance, second.cursor).run_requests
        assert [k.name for k in plain.asset_check_keys] == ["trades_unique_and_priced"]


@pytest.mark.parametrize("batch", ["-1", "soon"])
def test_a_bad_batch_setting_is_a_clear_error(data_dir, monkeypatch, batch):
    monkeypatch.setenv("PM_INGEST_BATCH_S", batch)
    with dg.DagsterInstance.ephemeral() as instance, pytest.raises(ValueError, match="PM_INGEST_BATCH_S"):
        tick(data_dir, instance, None)
