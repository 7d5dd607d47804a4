"""Writing the ML layer's lake tables with the lake's guarantees (temporary name, fsync, atomic rename, a
re-materialized partition replaces exactly its own files)."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import duckdb

from polymarket_assets.lib.ml.features import WHALE_USD, copy_features
from polymarket_assets.lib.ml.sources import FEATURES_TABLE, connect
from polymarket_assets.lib.parquet_store import partition_path


def day_window(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=UTC)
    return start, start + timedelta(days=1)


def write_features_partition(
    data_dir: str | os.PathLike,
    day: date,
    whale_usd: float = WHALE_USD,
    con: duckdb.DuckDBPyConnection | None = None,
) -> tuple[int, Path]:
    """Build one day of features straight into `lake/features/date=<day>/` and make it the partition's only file."""
    lake_root = Path(data_dir) / "lake"
    directory = partition_path(lake_root, FEATURES_TABLE, {"date": day.isoformat()})
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"part-{uuid.uuid4().hex[:12]}.parquet"
    tmp = directory / f".tmp-{uuid.uuid4().hex}.parquet.partial"
    own = con is None
    con = con or connect(temp_directory=str(Path(data_dir) / ".duckdb_tmp"))
    try:
        start, end = day_window(day)
        rows = copy_features(con, lake_root, start, end, str(tmp), whale_usd)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, final)
    finally:
        if own:
            con.close()
        if tmp.exists():
            tmp.unlink()
    for other in directory.glob("*.parquet"):
        if other != final:
            other.unlink(missing_ok=True)
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return rows, final
