"""The recorder's two small JSON files under ``<data_dir>/ws_sidecar/``, each written atomically.

- ``status.json``: health for people and for the Dagster check (connections, subscribed assets, msgs/s, age
  of the last message, gaps in the last hour, files written). Rewritten every couple of seconds.
- ``state.json``: what a restarted recorder needs: the previous run's id, ``durable_through`` (every row
  received before it is in a closed file), ``audited_through`` (every tracked market was reconciled with the
  Data API up to it), the last file key, the tracked markets and whether it stopped cleanly.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any


def write_json_atomic(path: Path, payload: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, separators=(",", ":"), sort_keys=True, default=str)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def read_json(path: Path) -> dict | None:
    try:
        with open(path, encoding="utf-8") as handle:
            value = json.load(handle)
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def remove_stale_temporaries(directory: Path) -> None:
    if not directory.is_dir():
        return
    for entry in directory.iterdir():
        if entry.name.startswith(".") and entry.name.endswith(".tmp") and entry.is_file():
            entry.unlink(missing_ok=True)
