"""The lake: Parquet tables in hive partitions under `<data_dir>/lake/`, written atomically.

Owns path layout, atomic writes (temporary name, then rename), partition replacement and reading a table
back. Everything goes through a pyarrow filesystem so the same code can later point at object storage.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

PARQUET_COMPRESSION = "zstd"


def partition_path(root: Path, table: str, parts: Mapping[str, str]) -> Path:
    """`root/table/k1=v1/k2=v2`, in the order the mapping gives."""
    path = root / table
    for key, value in parts.items():
        if "/" in str(value) or str(value) in ("", ".", ".."):
            raise ValueError(f"unsafe partition value {key}={value!r}")
        path = path / f"{key}={value}"
    return path


def write_parquet_atomic(table: pa.Table, path: Path) -> Path:
    """Write `table` to `path` through a temporary file in the same directory, fsync it, then rename.

    Readers (and the DuckDB views) never see a partial file, and a crash leaves at most a `.tmp-*` file,
    which no glob of `*.parquet` matches.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex}-{path.name}.partial")
    try:
        pq.write_table(table, tmp, compression=PARQUET_COMPRESSION)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    _fsync_dir(path.parent)
    return path


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Lake:
    """The store of record: `<data_dir>/lake/<table>/<hive partitions>/<file>.parquet`."""

    def __init__(self, data_dir: str | os.PathLike[str]):
        self.data_dir = Path(data_dir)
        self.root = self.data_dir / "lake"

    def table_dir(self, table: str) -> Path:
        return self.root / table

    def write(self, table_name: str, table: pa.Table, parts: Mapping[str, str], file_stem: str) -> Path:
        """Write one file into a partition; writing the same stem again replaces that file only."""
        path = partition_path(self.root, table_name, parts) / f"{file_stem}.parquet"
        return write_parquet_atomic(table, path)

    def replace_partition(self, table_name: str, table: pa.Table, parts: Mapping[str, str]) -> Path:
        """Make `table` the whole content of one partition: write it, then remove every other file there."""
        directory = partition_path(self.root, table_name, parts)
        path = self.write(table_name, table, parts, f"part-{uuid.uuid4().hex[:12]}")
        for other in directory.glob("*.parquet"):
            if other != path:
                other.unlink(missing_ok=True)
        return path

    def files(self, table_name: str, parts: Mapping[str, str] | None = None) -> list[Path]:
        directory = partition_path(self.root, table_name, parts or {})
        if not directory.exists():
            return []
        return sorted(directory.rglob("*.parquet"))

    def read(self, table_name: str, parts: Mapping[str, str] | None = None, columns: Iterable[str] | None = None) -> pa.Table | None:
        """Read a whole table (or one partition) with its hive columns; None when nothing was written yet."""
        files = self.files(table_name, parts)
        if not files:
            return None
        dataset = ds.dataset(
            [str(f) for f in files],
            format="parquet",
            partitioning=ds.HivePartitioning.discover(infer_dictionary=False),
            partition_base_dir=str(self.root / table_name),
        )
        return dataset.to_table(columns=list(columns) if columns else None)
