"""The raw archive: API payloads and WS frames kept as compressed Parquet under `<data_dir>/raw/`.

Derived columns can be wrong; the raw payload lets them be recomputed. One file per run (or per sweep),
zstd-compressed, written atomically like the lake, locally or on an object store (`DataLocation`).
"""

from __future__ import annotations

import json
import posixpath
from datetime import datetime
from pathlib import Path, PurePosixPath

import pyarrow as pa

from polymarket_assets.lib.parquet_store import DataLocation, partition_relpath

RAW_SCHEMA = pa.schema(
    [
        ("fetched_at", pa.timestamp("us", tz="UTC")),
        ("endpoint", pa.string()),
        ("request", pa.string()),
        ("body", pa.string()),
    ]
)


class RawArchive:
    def __init__(self, data_dir: str | Path, kind: str):
        self.location = DataLocation(data_dir)
        self.root = self.location.path("raw")
        self.kind = kind
        self._rows: list[dict] = []

    def add(self, fetched_at: datetime, endpoint: str, request: object, body: object) -> None:
        self._rows.append(
            {
                "fetched_at": fetched_at,
                "endpoint": endpoint,
                "request": request
                if isinstance(request, str)
                else json.dumps(request, separators=(",", ":")),
                "body": body if isinstance(body, str) else json.dumps(body, separators=(",", ":")),
            }
        )

    def __len__(self) -> int:
        return len(self._rows)

    def flush(self, parts: dict[str, str], stem: str) -> Path | PurePosixPath | None:
        if not self._rows:
            return None
        table = pa.Table.from_pylist(self._rows, schema=RAW_SCHEMA)
        path = posixpath.join(partition_relpath(self.root, self.kind, parts), f"{stem}.parquet")
        self.location.write_parquet(table, path)
        self._rows = []
        return self.location.public(path)
