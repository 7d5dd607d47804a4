"""Writing the ML layer's lake tables with the lake's guarantees (temporary name, fsync, atomic rename, a
re-materialized partition replaces exactly its own files)."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import duckdb

from polymarket_assets.lib import tables
from polymarket_assets.lib.ml.features import WHALE_USD, copy_features
from polymarket_assets.lib.ml.sources import connect
from polymarket_assets.lib.parquet_store import local_data_dir, partition_path


def day_window(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=UTC)
    return start, start + timedelta(days=1)


def write_features_partition(
    data_dir: str | os.PathLike,
    day: date,
    whale_usd: float = WHALE_USD,
    con: duckdb.DuckDBPyConnection | None = None,
) -> tuple[int, list[Path]]:
    """Build one day of features straight into `lake/features/date=<day>/` (one file per chunk of snapshot
    files) and make those files the partition's only ones. Returns the row count and the files."""
    lake_root = local_data_dir(data_dir, "the features build") / "lake"
    directory = partition_path(lake_root, tables.FEATURES.name, tables.FEATURES.parts(day))
    directory.mkdir(parents=True, exist_ok=True)
    build = uuid.uuid4().hex[:12]
    own = con is None
    con = con or connect(temp_directory=str(Path(data_dir) / ".duckdb_tmp"))
    written: list[tuple[str, int]] = []
    try:
        start, end = day_window(day)
        written = copy_features(
            con,
            lake_root,
            start,
            end,
            lambda i: str(directory / f".tmp-{build}-{i:03d}.parquet.partial"),
            whale_usd,
        )
        for path, _ in written:
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
        finals = []
        for path, _ in written:
            final = directory / Path(path).name.removeprefix(".tmp-").removesuffix(".partial")
            final = final.with_name(f"part-{final.name}")
            os.replace(path, final)
            finals.append(final)
    finally:
        if own:
            con.close()
        for path, _ in written:
            Path(path).unlink(missing_ok=True)
    for other in directory.glob("*.parquet"):
        if other not in finals:
            other.unlink(missing_ok=True)
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return sum(rows for _, rows in written), finals
