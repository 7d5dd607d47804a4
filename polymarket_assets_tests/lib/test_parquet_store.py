"""The lake writes atomically, replaces exactly one partition, and never exposes a partial file."""

import os
import signal
import subprocess
import sys
import textwrap

import pyarrow as pa
import pyarrow.parquet

from polymarket_assets.lib.parquet_store import Lake


def test_same_stem_replaces_only_that_file(tmp_path):
    lake = Lake(tmp_path)
    parts = {"tier": "T2", "date": "2026-11-25", "hour": "07"}
    lake.write("snapshots", pa.table({"x": [1, 2]}), parts, "slot-a")
    lake.write("snapshots", pa.table({"x": [3]}), parts, "slot-b")
    lake.write("snapshots", pa.table({"x": [4, 5]}), parts, "slot-a")
    assert sorted(lake.read("snapshots", parts).column("x").to_pylist()) == [3, 4, 5]


def test_replace_partition_leaves_other_partitions_alone(tmp_path):
    lake = Lake(tmp_path)
    a, b = {"date": "2026-11-25", "hour": "07"}, {"date": "2026-11-25", "hour": "08"}
    lake.write("t", pa.table({"x": [1]}), a, "one")
    lake.write("t", pa.table({"x": [2]}), a, "two")
    lake.write("t", pa.table({"x": [9]}), b, "one")
    lake.replace_partition("t", pa.table({"x": [7]}), a)
    lake.replace_partition("t", pa.table({"x": [7]}), a)
    assert lake.read("t", a).column("x").to_pylist() == [7]
    assert lake.read("t", b).column("x").to_pylist() == [9]


def test_unsafe_partition_values_are_refused(tmp_path):
    lake = Lake(tmp_path)
    for bad in ("../x", "", ".."):
        try:
            lake.write("t", pa.table({"x": [1]}), {"date": bad}, "f")
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} accepted")


def test_kill_during_write_leaves_no_visible_partial_file(tmp_path):
    # A child writes a large table in a loop; SIGKILL it mid-write and check every visible file is whole.
    script = textwrap.dedent(
        f"""
        import pyarrow as pa
        from polymarket_assets.lib.parquet_store import Lake
        lake = Lake({str(tmp_path)!r})
        table = pa.table({{"x": list(range(2_000_000))}})
        i = 0
        while True:
            lake.write("big", table, {{"date": "2026-11-25"}}, f"f{{i % 3}}")
            i += 1
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script])
    try:
        target = tmp_path / "lake" / "big" / "date=2026-11-25"
        for _ in range(200):
            if target.exists() and any(target.glob("*.parquet")):
                break
            subprocess.run(["sleep", "0.05"], check=False)
        subprocess.run(["sleep", "0.3"], check=False)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    lake = Lake(tmp_path)
    for path in lake.files("big"):
        assert pa.parquet.read_metadata(path).num_rows == 2_000_000


def test_code_that_needs_a_local_directory_refuses_an_object_store_lake_before_touching_disk(
    tmp_path, monkeypatch
):
    from datetime import UTC, date, datetime, timedelta

    import pytest

    from polymarket_assets.lib.ml import model, pipeline, store
    from polymarket_assets.lib.parquet_store import local_data_dir
    from polymarket_assets.lib.trades.ingest import partition_lock
    from polymarket_assets.lib.trades.whales import whale_events_for_window

    monkeypatch.chdir(tmp_path)
    assert local_data_dir(tmp_path, "x") == tmp_path
    uri = "s3://bucket/prefix"
    start = datetime(2026, 11, 24, 10, tzinfo=UTC)
    for attempt in (
        lambda: store.write_features_partition(uri, date(2026, 11, 24)),
        lambda: pipeline.make_training_set(uri, {24.0: 2.0}),
        lambda: model.models_dir(uri),
        lambda: partition_lock(uri, "trades", "2026-11-24-10:00").__enter__(),
        lambda: whale_events_for_window(uri, start, start + timedelta(hours=1), computed_at=start),
    ):
        with pytest.raises(
            ValueError, match="needs a local data directory, but PM_DATA_DIR is s3://bucket/prefix"
        ):
            attempt()
    assert list(tmp_path.iterdir()) == [], "nothing may be written to a local folder named s3:"


def test_a_listing_that_races_a_writer_is_retried_and_a_missing_directory_lists_nothing(tmp_path):
    lake = Lake(tmp_path)
    parts = {"tier": "T1", "date": "2026-11-10", "hour": "04"}
    lake.write("sweeps", pa.table({"x": [1]}), parts, "slot-a")
    location = lake.location
    real = location.fs

    class RacingFs:
        """Fails the first walk as pyarrow does when a subdirectory appears or vanishes mid-walk."""

        calls = 0

        def get_file_info(self, selector):
            RacingFs.calls += 1
            if RacingFs.calls == 1:
                raise FileNotFoundError(f"Cannot list directory '{selector.base_dir}'")
            return real.get_file_info(selector)

    location.fs = RacingFs()
    assert [p.name for p in lake.files("sweeps", parts)] == ["slot-a.parquet"]
    assert RacingFs.calls == 2
    location.fs = real
    assert lake.files("sweeps", {**parts, "hour": "05"}) == []
