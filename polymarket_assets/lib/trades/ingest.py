"""Taking the recorder's closed incoming files into the lake (no Dagster here, so it is easy to test).

- ``files_for_partition``: the validated files a run reads, never anything outside ``incoming/``.
- ``load_incoming``: reads and validates every file of a run on its own, against its incoming schema
  (``lib/incoming.read_incoming``); a corrupt, empty or wrong-schema file is quarantined alone
  (``quarantine_file``) and the others are used.
- ``link_into``: hard-link a validated incoming file into the lake or raw archive (no copy, idempotent).
- ``partition_lock``: one writer per (table, partition) at a time, so concurrent runs never lose rows.
- ``remove_ingested``: ``incoming/`` retention (files are deleted once their rows are in the lake).

The de-duplicating merges of the ingested rows into the lake's tables are `lib/trades/merge.py`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from polymarket_assets.lib.compaction import compacted_members
from polymarket_assets.lib.incoming import (
    DAY_RE,
    INCOMING_SCHEMAS,
    NAME_RE,
    IncomingFile,
    incoming_root,
    list_incoming,
    read_incoming,
    resolve_relpath,
)
from polymarket_assets.lib.parquet_store import local_data_dir
from polymarket_assets.lib.quarantine import Quarantine

if TYPE_CHECKING:
    from collections.abc import Mapping

# What happens to an incoming file once its rows are in the lake: `delete` (default) or `keep`.
RETENTION_ENV = "PM_INCOMING_AFTER_INGEST"
RETENTION_MODES = ("delete", "keep")
QUARANTINE_SOURCE = "ws_ingest"
# Moved files keep their bytes under this directory, with a suffix no `*.parquet` glob matches.
QUARANTINED_FILES_DIR = ("quarantine", "incoming_files")
QUARANTINED_SUFFIX = ".quarantined"
# A quarantine row keeps at most this many raw bytes of a file (the moved file keeps all of them).
RAW_BYTES_IN_ROW = 256 * 1024


def retention_mode(environ: Mapping[str, str] = os.environ) -> str:
    mode = environ.get(RETENTION_ENV, "").strip() or "delete"
    if mode not in RETENTION_MODES:
        raise ValueError(f"{RETENTION_ENV} must be one of {RETENTION_MODES}, not {mode!r}")
    return mode


def partition_hour(partition_key: str) -> str:
    """``2026-11-25-06:00`` → ``20261125T06`` (the hour tag in incoming file names)."""
    return partition_key[:4] + partition_key[5:7] + partition_key[8:10] + "T" + partition_key[11:13]


def files_for_partition(
    data_dir: str | os.PathLike[str], kind: str, partition_key: str, relpaths: list[str]
) -> tuple[list[IncomingFile], list[str]]:
    """The files a run ingests: the given identities (validated), or every file of the partition's hour.

    Returns (files, rejected identities). A rejected identity is not one of ours or not of this kind or hour;
    it is reported, never opened. An identity of ours that is no longer there was ingested and removed by an
    earlier run (a retry, a re-sent request): it is neither returned nor rejected.
    """
    hour = partition_hour(partition_key)
    if not relpaths:
        return sorted((f for f in list_incoming(data_dir, [kind]) if f.hour == hour), key=lambda f: f.key), []
    chosen, rejected = [], []
    for rel in dict.fromkeys(relpaths):
        f = resolve_relpath(data_dir, rel)
        if f is None and _ours_but_gone(data_dir, rel, kind, hour):
            continue
        if f is None or f.kind != kind or f.hour != hour:
            rejected.append(rel)
        else:
            chosen.append(f)
    return sorted(chosen, key=lambda f: f.key), rejected


def _ours_but_gone(data_dir: str | os.PathLike[str], relpath: str, kind: str, hour: str) -> bool:
    parts = relpath.split("/")
    if len(parts) != 3 or parts[0] != kind or not DAY_RE.fullmatch(parts[1]):
        return False
    match = NAME_RE.fullmatch(parts[2])
    return (
        match is not None
        and match["kind"] == kind
        and match["hour"] == hour
        and not os.path.lexists(incoming_root(data_dir) / kind / parts[1] / parts[2])
    )


@contextlib.contextmanager
def partition_lock(data_dir: str | os.PathLike[str], table: str, partition_key: str) -> Iterator[None]:
    directory = local_data_dir(data_dir, "trades ingestion") / "lake" / ".locks"
    directory.mkdir(parents=True, exist_ok=True)
    safe = partition_key.replace(":", "").replace("/", "_")
    with open(directory / f"{table}-{safe}.lock", "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@dataclass
class LoadedFiles:
    table: pa.Table  # the rows of every good file, with an `incoming_file` column
    good: list[IncomingFile]
    tables: dict[str, pa.Table]  # relpath -> that file's rows, cast to the kind's incoming schema
    quarantined: list[tuple[IncomingFile, str]]


def quarantine_file(
    data_dir: str | os.PathLike[str], path: Path, relpath: str, reason: str, quarantine: Quarantine
) -> Path | None:
    """Move one incoming entry out of ``incoming/`` into ``quarantine/incoming_files/`` and record why.

    The quarantine row carries the reason and the raw bytes (up to ``RAW_BYTES_IN_ROW``; the moved file keeps
    all of them); a symlink is moved as a link (its target is recorded, never read). Returns where it went,
    or None when it could not be moved (it is then reported again by the next sensor tick or run).
    """
    if os.path.islink(path):
        raw: bytes | str = f"symlink -> {os.readlink(path)}"
        size = None
    else:
        try:
            with open(path, "rb") as handle:
                raw = handle.read(RAW_BYTES_IN_ROW + 1)
            size = os.path.getsize(path)
        except OSError as exc:
            raw, size = f"unreadable: {exc}", None
    target = Path(data_dir).joinpath(*QUARANTINED_FILES_DIR, relpath + QUARANTINED_SUFFIX)
    moved: Path | None = target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
    except OSError:
        moved = None
    truncated = isinstance(raw, bytes) and len(raw) > RAW_BYTES_IN_ROW
    quarantine.add(
        reason,
        raw[:RAW_BYTES_IN_ROW] if truncated else raw,
        {
            "incoming_file": relpath,
            "size": size,
            "raw_truncated": truncated,
            "moved_to": str(moved) if moved else None,
        },
    )
    return moved


def load_incoming(
    data_dir: str | os.PathLike[str],
    kind: str,
    chosen: Iterable[IncomingFile],
    quarantine: Quarantine,
    now: datetime | None = None,
) -> LoadedFiles:
    """Read and validate each file on its own; bad ones are quarantined (and moved away), good ones returned.

    A file that vanished since it was chosen (already ingested and removed by a concurrent run) is skipped:
    its rows are in the lake already.
    """
    good, tables, bad = [], {}, []
    for f in chosen:
        if not os.path.lexists(f.path):
            continue
        table, reason = read_incoming(f)
        if reason is not None:
            quarantine_file(data_dir, f.path, f.relpath, reason, quarantine)
            bad.append((f, reason))
            continue
        good.append(f)
        tables[f.relpath] = table
    if bad:
        quarantine.flush(now or datetime.now(UTC))
    schema = INCOMING_SCHEMAS[kind].append(pa.field("incoming_file", pa.string()))
    parts = [
        t.append_column("incoming_file", pa.repeat(pa.scalar(rel, pa.string()), t.num_rows))
        for rel, t in tables.items()
    ]
    table = pa.concat_tables(parts) if parts else schema.empty_table()
    return LoadedFiles(table, good, tables, bad)


def remove_ingested(ingested: Iterable[IncomingFile], mode: str) -> int:
    """``incoming/`` retention: once a file's rows are durable in the lake, delete it (mode ``delete``)."""
    if mode == "keep":
        return 0
    removed = 0
    for f in ingested:
        try:
            os.unlink(f.path)
            removed += 1
        except FileNotFoundError:
            pass
    return removed


def link_into(source: IncomingFile, directory: Path) -> bool:
    """Hard-link an incoming file into ``directory`` under its own name (copy across filesystems).

    Incoming files are immutable once renamed, so a link is a safe, free "copy". Returns False when it was
    already there (a re-run), also merged into the partition's compacted file, True when it was added.
    """
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / source.name
    if target.exists() or source.name in compacted_members(directory):
        return False
    tmp = directory / f".tmp-link-{source.name}"
    tmp.unlink(missing_ok=True)
    try:
        os.link(source.path, tmp)
    except OSError:
        shutil.copyfile(source.path, tmp)
    os.replace(tmp, target)
    return True
