"""The quarantine: bad payloads kept with their reason instead of being dropped or crashing a run.

Layout (DESIGN.md storage contract): ``<data_dir>/quarantine/source=<source>/date=YYYY-MM-DD/part-<uuid>.parquet``
with columns ``quarantined_at`` (timestamp[us, UTC]), ``source``, ``reason``, ``raw``, ``context``. Each flush
writes one new file under a hidden temporary name and renames it into place (on an object store, one PUT of the
final key, which is atomic), so readers never see a partial file and two runs never write the same file.
"""

from __future__ import annotations

import json
import os
import re
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

from polymarket_assets.lib.errors import ParseError
from polymarket_assets.lib.parquet_store import DataLocation

T = TypeVar("T")

SCHEMA = pa.schema(
    [
        pa.field("quarantined_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("raw", pa.string()),
        pa.field("context", pa.string()),
    ]
)

# A source becomes a directory name: keep it to a safe, hive-friendly alphabet.
_SOURCE = re.compile(r"[A-Za-z0-9_.-]+")


def _as_text(value: Any) -> str | None:
    """Raw payloads are stored as text exactly when possible; objects as JSON."""
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray)):
        # backslashreplace keeps undecodable bytes visible instead of losing them.
        return bytes(value).decode("utf-8", errors="backslashreplace")
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=repr)
        except (TypeError, ValueError, RecursionError):
            text = repr(value)
    # Lone surrogates (from JSON "\ud800" escapes) cannot be written as UTF-8; keep them as visible escapes.
    return text.encode("utf-8", errors="backslashreplace").decode("utf-8")


class Quarantine:
    """Collects ``(reason, raw_payload, context)`` entries in memory; ``flush`` writes them as one Parquet file."""

    def __init__(self, data_dir: str | os.PathLike, source: str):
        if not _SOURCE.fullmatch(source) or source in (".", ".."):
            raise ValueError(f"quarantine source must match {_SOURCE.pattern}, got {source!r}")
        self.location = DataLocation(data_dir)
        self.data_dir = Path(data_dir) if self.location.is_local else self.location.uri
        self.source = source
        self._lock = threading.Lock()
        self._entries: list[tuple[str, str | None, str | None]] = []
        self._counts: Counter[str] = Counter()

    def add(self, reason: str, raw_payload: Any, context: Any = None) -> None:
        entry = (str(reason), _as_text(raw_payload), _as_text(context))
        with self._lock:
            self._entries.append(entry)
            self._counts[entry[0]] += 1

    @property
    def count(self) -> int:
        """Entries added since this object was created (flushing does not reset it: it feeds run metadata)."""
        with self._lock:
            return sum(self._counts.values())

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._entries)

    def counts_by_reason(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def flush(self, now: datetime) -> Path | PurePosixPath | None:
        """Write the pending entries to a new Parquet file; None when there was nothing to write."""
        if now.tzinfo is None:
            raise ValueError("flush(now) needs an aware datetime")
        now = now.astimezone(UTC)
        with self._lock:
            entries, self._entries = self._entries, []
        if not entries:
            return None
        try:
            return self._write(entries, now)
        except BaseException:
            # Put them back so a failed write (disk full...) loses nothing; a later flush can retry.
            with self._lock:
                self._entries = entries + self._entries
            raise

    def _write(
        self, entries: list[tuple[str, str | None, str | None]], now: datetime
    ) -> Path | PurePosixPath:
        table = pa.table(
            {
                "quarantined_at": pa.array([now] * len(entries), type=pa.timestamp("us", tz="UTC")),
                "source": pa.array([self.source] * len(entries), type=pa.string()),
                "reason": pa.array([e[0] for e in entries], type=pa.string()),
                "raw": pa.array([e[1] for e in entries], type=pa.string()),
                "context": pa.array([e[2] for e in entries], type=pa.string()),
            },
            schema=SCHEMA,
        )
        name = f"part-{uuid.uuid4().hex}.parquet"
        relative = ("quarantine", f"source={self.source}", f"date={now:%Y-%m-%d}", name)
        if not self.location.is_local:
            path = self.location.path(*relative)
            pq.write_table(table, path, filesystem=self.location.fs)
            return PurePosixPath(path)
        final = Path(self.location.path(*relative))
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f".{name}.tmp")  # hidden: readers globbing *.parquet skip it
        try:
            pq.write_table(table, tmp)
            os.replace(tmp, final)
        finally:
            if tmp.exists():
                tmp.unlink()
        return final


def parse_or_quarantine(
    parse_fn: Callable[[Any], T], raw: Any, quarantine: Quarantine, context: Any = None
) -> T | None:
    """``parse_fn(raw)``, or None after quarantining ``raw`` with the parser's reason.

    Only ``ParseError`` is caught: the parsers raise nothing else for bad input, so any other exception is a
    bug and should stop the run loudly.
    """
    try:
        return parse_fn(raw)
    except ParseError as exc:
        quarantine.add(exc.reason, raw, context)
        return None
