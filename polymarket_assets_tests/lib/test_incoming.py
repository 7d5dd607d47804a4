"""Listing the recorder's incoming files while ingestion deletes them (lib/incoming.py)."""

from __future__ import annotations

import shutil

from polymarket_assets.lib.incoming import day_of_ms, file_name, incoming_root, list_incoming

MS = 1_796_524_447_430  # 2026-12-05


def _touch(data_dir, ms: int, seq: int):
    day = incoming_root(data_dir) / "trades" / f"day={day_of_ms(ms)}"
    day.mkdir(parents=True, exist_ok=True)
    path = day / file_name("trades", "20261109T12", ms, seq, "f22afb10")
    path.write_bytes(b"not read by a listing")
    return path


def test_a_file_deleted_while_the_listing_runs_is_skipped_not_raised(tmp_path):
    paths = [_touch(tmp_path, MS, seq) for seq in range(3)]
    listing = list_incoming(tmp_path)
    first = next(listing)
    for path in paths:  # ingestion took the rest in and deleted them after the directory was read
        if path != first.path:
            path.unlink()
    assert list(listing) == []


def test_a_day_directory_removed_while_the_listing_runs_is_skipped(tmp_path):
    first_day = _touch(tmp_path, MS, 0)
    second_day = _touch(tmp_path, MS + 86_400_000, 1)
    listing = list_incoming(tmp_path)
    assert next(listing).path == first_day
    shutil.rmtree(second_day.parent)
    assert list(listing) == []
