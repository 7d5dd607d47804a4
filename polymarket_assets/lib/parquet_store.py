"""The lake: Parquet tables in hive partitions under `<data_dir>/lake/`, written atomically.

Owns path layout, atomic writes, partition replacement and reading a table back. `data_dir` is a local
directory or an object-store URI (`s3://bucket/prefix`); everything goes through a pyarrow filesystem
(`DataLocation`), so the lake, the raw archive and the quarantine work the same on both:

- local: write to a temporary name in the same directory, fsync, rename (readers never see a partial file);
- S3: write the final key directly. A PUT (or a completed multipart upload) is atomic: the object appears
  whole or not at all, and S3 has no rename to build on. The endpoint, region and credentials come from the
  standard AWS variables (`AWS_ENDPOINT_URL` for a non-AWS server such as MinIO, `AWS_REGION`,
  `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`), read when a location is opened, never at import.

A replaced partition (`Lake.replace_partition`) holds one file under a fixed name, so replacing it is one
atomic step on both (rename, or PUT of the key): concurrent writers and readers see the old or the new
partition, never an empty or a doubled one.
"""

from __future__ import annotations

import functools
import os
import posixpath
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

PARQUET_COMPRESSION = "zstd"
# The one file of a partition that `replace_partition` owns.
REPLACED_FILE = "data.parquet"
# A read that meets a file removed after its listing lists again, at most this many times.
READ_ATTEMPTS = 3
OBJECT_STORE_SCHEMES = ("s3://",)


def is_object_store(data_dir: str | os.PathLike[str]) -> bool:
    return str(data_dir).startswith(OBJECT_STORE_SCHEMES)


def local_data_dir(data_dir: str | os.PathLike[str], user: str) -> Path:
    """`data_dir` as a local `Path`, for code that needs a real directory (file locks, hard links, the ML
    layer); an object-store `data_dir` is a clear error, never a local folder named `s3:`."""
    if is_object_store(data_dir):
        raise ValueError(
            f"{user} needs a local data directory, but PM_DATA_DIR is {data_dir}: only collection, the raw "
            "archive, the quarantine and the warehouse run on object storage (README, 'Object storage')"
        )
    return Path(data_dir)


def s3_options_from_env() -> dict[str, str]:
    """S3FileSystem options from the standard AWS variables (the SDK reads the credentials itself)."""
    options = {}
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        options["endpoint_override"] = endpoint
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        options["region"] = region
    return options


@functools.lru_cache(maxsize=8)
def _s3_filesystem(options: tuple[tuple[str, str], ...]) -> pafs.S3FileSystem:
    # One client per configuration and process: creating one resolves credentials and opens a pool.
    return pafs.S3FileSystem(**dict(options))


class DataLocation:
    """`PM_DATA_DIR` as a pyarrow filesystem plus a base path in it; paths below are '/'-joined strings."""

    def __init__(self, data_dir: str | os.PathLike[str]):
        text = str(data_dir)
        if is_object_store(text):
            bucket_and_prefix = text[len("s3://") :].strip("/")
            if not bucket_and_prefix:
                raise ValueError(f"{text!r} names no bucket")
            self.uri = f"s3://{bucket_and_prefix}"
            self.fs: pafs.FileSystem = _s3_filesystem(tuple(sorted(s3_options_from_env().items())))
            self.base = bucket_and_prefix
            self.is_local = False
        else:
            path = Path(os.path.abspath(text))
            self.uri = str(path)
            self.fs = pafs.LocalFileSystem()
            self.base = str(path)
            self.is_local = True

    def path(self, *parts: str) -> str:
        return posixpath.join(self.base, *parts)

    def uri_of(self, path: str) -> str:
        """What a reader outside pyarrow (DuckDB, a person) calls `path`: a local path or an s3:// URI."""
        return path if self.is_local else f"s3://{path}"

    def public(self, path: str) -> Path | PurePosixPath:
        """A path object for callers: a real `Path` locally, the bucket-relative key on S3 (`.name` works)."""
        return Path(path) if self.is_local else PurePosixPath(path)

    def write_parquet(self, table: pa.Table, path: str, compression: str = PARQUET_COMPRESSION) -> str:
        """Write one Parquet file so that readers see all of it or nothing (see the module docstring)."""
        if self.is_local:
            write_parquet_atomic(table, Path(path), compression=compression)
        else:
            pq.write_table(table, path, filesystem=self.fs, compression=compression)
        return path

    def parquet_files(self, directory: str) -> list[str]:
        """Every visible `*.parquet` below `directory` (recursively), sorted; temporaries (dot names) skipped."""
        selector = pafs.FileSelector(directory, recursive=True, allow_not_found=True)
        for attempt in range(3):
            try:
                infos = self.fs.get_file_info(selector)
                break
            except FileNotFoundError:
                # A writer created or removed a subdirectory while the walk was in it (pyarrow's
                # allow_not_found covers only `directory` itself): list again.
                if attempt == 2:
                    raise
        found = []
        for info in infos:
            if info.type != pafs.FileType.File or not info.base_name.endswith(".parquet"):
                continue
            if any(part.startswith(".") for part in info.path[len(directory) :].split("/")):
                continue
            found.append(info.path)
        return sorted(found)

    def read_parquet(self, path: str, columns: list[str] | None = None) -> pa.Table:
        """One whole file as one consistent version: read through a single open handle locally (a rename over
        the path does not change what an open handle reads) and fetched whole with one GET on S3 (range reads
        could mix the bytes of two versions of an object overwritten in between)."""
        if self.is_local:
            with self.fs.open_input_file(path) as handle:
                return _select_present(pq.read_table(handle), columns)
        with self.fs.open_input_stream(path) as stream:
            body = stream.readall()
        return _select_present(pq.read_table(pa.BufferReader(body)), columns)

    def delete(self, path: str) -> None:
        try:
            self.fs.delete_file(path)
        except FileNotFoundError:
            pass


def _select_present(table: pa.Table, columns: list[str] | None) -> pa.Table:
    """`columns` of `table` that it has (hive columns and columns newer than the file are added later)."""
    if columns is None:
        return table
    return table.select([c for c in columns if c in table.column_names])


def partition_path(root: Path, table: str, parts: Mapping[str, str]) -> Path:
    """`root/table/k1=v1/k2=v2`, in the order the mapping gives."""
    return Path(partition_relpath(str(root), table, parts))


def partition_relpath(root: str, table: str, parts: Mapping[str, str]) -> str:
    segments = [table]
    for key, value in parts.items():
        if "/" in str(value) or str(value) in ("", ".", ".."):
            raise ValueError(f"unsafe partition value {key}={value!r}")
        segments.append(f"{key}={value}")
    return posixpath.join(root, *segments)


def write_parquet_atomic(table: pa.Table, path: Path, compression: str = PARQUET_COMPRESSION) -> Path:
    """Write `table` to local `path` through a temporary file in the same directory, fsync it, then rename.

    Readers (and the DuckDB views) never see a partial file, and a crash leaves at most a `.tmp-*` file,
    which no glob of `*.parquet` matches.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex}-{path.name}.partial")
    try:
        pq.write_table(table, tmp, compression=compression)
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
    """The store of record: `<data_dir>/lake/<table>/<hive partitions>/<file>.parquet`.

    `data_dir` and `root` are `Path`s for a local lake (as before) and URI strings for an object store.
    """

    def __init__(self, data_dir: str | os.PathLike[str]):
        self.location = DataLocation(data_dir)
        if self.location.is_local:
            self.data_dir: Path | str = Path(data_dir)
            self.root: Path | str = self.data_dir / "lake"
        else:
            self.data_dir = self.location.uri
            self.root = f"{self.location.uri}/lake"
        self._root = self.location.path("lake")

    def table_dir(self, table: str) -> Path:
        """The local directory of a table. An object-store lake has none (write through `write` instead)."""
        if not self.location.is_local:
            raise ValueError(f"{self.data_dir} is an object store: table {table!r} has no local directory")
        return Path(self._root) / table

    def write(
        self, table_name: str, table: pa.Table, parts: Mapping[str, str], file_stem: str
    ) -> Path | PurePosixPath:
        """Write one file into a partition; writing the same stem again replaces that file only."""
        path = posixpath.join(partition_relpath(self._root, table_name, parts), f"{file_stem}.parquet")
        return self.location.public(self.location.write_parquet(table, path))

    def replace_partition(
        self, table_name: str, table: pa.Table, parts: Mapping[str, str]
    ) -> Path | PurePosixPath:
        """Make `table` the whole content of one partition, atomically for concurrent writers and readers.

        The content of a replaced partition is one file under a fixed name (`REPLACED_FILE`), swapped in by a
        single atomic step: a rename over it locally, one PUT of its key on S3. A reader therefore lists the old
        file or the new one, never none and never both, and of two concurrent replaces the later one wins whole
        (never an empty or doubled partition). Files of any other name (written by `write`, or the
        `part-<uuid>` files of earlier versions) are removed only after the swap.
        """
        directory = partition_relpath(self._root, table_name, parts)
        written = self.write(table_name, table, parts, REPLACED_FILE.removesuffix(".parquet"))
        for other in self.location.parquet_files(directory):
            if posixpath.dirname(other) == directory and other != str(written):
                self.location.delete(other)
        return written

    def files(self, table_name: str, parts: Mapping[str, str] | None = None) -> list[Path | PurePosixPath]:
        directory = partition_relpath(self._root, table_name, parts or {})
        return [self.location.public(p) for p in self.location.parquet_files(directory)]

    def row_count(self, table_name: str, parts: Mapping[str, str] | None = None) -> int:
        """Rows in a table (or one partition) from the Parquet footers, without reading any data."""
        files = self.location.parquet_files(partition_relpath(self._root, table_name, parts or {}))
        return sum(pq.read_metadata(f, filesystem=self.location.fs).num_rows for f in files)

    def read(
        self, table_name: str, parts: Mapping[str, str] | None = None, columns: Iterable[str] | None = None
    ) -> pa.Table | None:
        """Read a whole table (or one partition) with its hive columns; None when nothing was written yet.

        Each file is read from one open handle (locally) or one GET (on S3), so a file replaced while it is
        read gives its old or its new content, never a mix; a file removed between the listing and the read
        (a replace tidying up) makes the read list again.
        """
        base = posixpath.join(self._root, table_name)
        wanted = list(columns) if columns else None
        for attempt in range(READ_ATTEMPTS):
            files = self.location.parquet_files(partition_relpath(self._root, table_name, parts or {}))
            if not files:
                return None
            try:
                return _with_hive_columns(
                    [(f, self.location.read_parquet(f, wanted)) for f in files], base, wanted
                )
            except FileNotFoundError:
                if attempt == READ_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")


def _hive_parts(path: str, base: str) -> dict[str, str]:
    segments = posixpath.dirname(path)[len(base) :].strip("/").split("/")
    return dict(segment.split("=", 1) for segment in segments if "=" in segment)


def _hive_array(values: list[str]) -> pa.Array:
    # The types pyarrow's hive discovery infers (infer_dictionary=False): int32 when every value is an integer.
    try:
        return pa.array([int(v) for v in values], pa.int32())
    except (ValueError, OverflowError):
        return pa.array(values, pa.string())


def _with_hive_columns(tables: list[tuple[str, pa.Table]], base: str, columns: list[str] | None) -> pa.Table:
    """One table from per-file tables, each given the hive columns of its directory."""
    parts = [_hive_parts(path, base) for path, _ in tables]
    keys = list(dict.fromkeys(k for p in parts for k in p))
    merged = pa.concat_tables([t for _, t in tables], promote_options="permissive")
    for key in keys:
        if key in merged.column_names or (columns is not None and key not in columns):
            continue
        values = [p.get(key) for p, (_, t) in zip(parts, tables) for _ in range(t.num_rows)]
        if any(v is None for v in values):
            raise ValueError(f"files of one table disagree on the hive key {key!r}")
        merged = merged.append_column(key, _hive_array(values))
    return merged.select(columns) if columns is not None else merged
