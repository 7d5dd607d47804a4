"""When this deployment's recording began: the first hour its time partitions hold.

A partition before recording began can never hold data, so showing it as "missing" is noise. The start is, in
order: the `PM_COLLECTION_START` setting (a UTC date or hour), else the hour of the earliest discovery in the lake
(`market_states`), else the current UTC hour (a fresh install, before its first discovery). It is read once,
when the code location loads (`defs/partitions.py`); nothing else reads it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime

import pyarrow.fs as pafs

from polymarket_assets.lib import tables
from polymarket_assets.lib.parquet_store import DataLocation, partition_relpath

SETTING = "PM_COLLECTION_START"


def parse_start(text: str) -> datetime:
    """A UTC date (`2026-11-01`) or hour (`2026-11-01T06`, `2026-11-01T06:00`, `2026-11-01-06:00`, with or
    without an offset), floored to the hour."""
    value = text.strip()
    if len(value) == 16 and value[10] == "-":  # Dagster's hourly partition key, 2026-11-01-06:00
        value = value[:10] + "T" + value[11:]
    if len(value) == 13 and value[10] == "T":  # 2026-11-01T06
        value += ":00"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"{SETTING} must be a UTC date or hour such as 2026-11-01 or 2026-11-01T06:00, not {text!r}"
        ) from None
    parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    return parsed.replace(minute=0, second=0, microsecond=0)


def _child_values(location: DataLocation, directory: str, key: str) -> list[str]:
    """The values of the hive directories `key=<value>` directly under `directory`."""
    infos = location.fs.get_file_info(pafs.FileSelector(directory, recursive=False, allow_not_found=True))
    prefix = f"{key}="
    return sorted(
        info.base_name[len(prefix) :]
        for info in infos
        if info.type == pafs.FileType.Directory and info.base_name.startswith(prefix)
    )


def first_discovery_hour(data_dir: str | os.PathLike[str]) -> datetime | None:
    """The earliest `date=/hour=` partition of `market_states` holding a file, or None before the first discovery."""
    location = DataLocation(data_dir)
    lake, table = location.path("lake"), tables.MARKET_STATES.name
    for date in _child_values(location, partition_relpath(lake, table, {}), "date"):
        for hour in _child_values(location, partition_relpath(lake, table, {"date": date}), "hour"):
            if location.parquet_files(partition_relpath(lake, table, {"date": date, "hour": hour})):
                return datetime.fromisoformat(f"{date}T{hour}:00+00:00")
    return None


def collection_start(env: Mapping[str, str] = os.environ, now: datetime | None = None) -> datetime:
    """The first hour of this deployment's partitions (see the module docstring)."""
    setting = env.get(SETTING, "").strip()
    if setting:
        return parse_start(setting)
    data_dir = env.get("PM_DATA_DIR", "").strip()
    if data_dir:
        first = first_discovery_hour(data_dir)
        if first is not None:
            return first
    return (now or datetime.now(UTC)).astimezone(UTC).replace(minute=0, second=0, microsecond=0)
