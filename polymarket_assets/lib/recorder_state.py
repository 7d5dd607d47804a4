"""Where the recorder (`ws_sidecar`) keeps its two small JSON files, and how anyone reads them.

Both live in ``<data_dir>/ws_sidecar/`` and are written atomically by the recorder (`ws_sidecar/state.py`):

- ``status.json``: health for people and for the Dagster checks (connections, subscribed assets, msgs/s, age
  of the last message, gaps in the last hour, files written). Rewritten every couple of seconds.
- ``state.json``: what a restarted recorder needs: the previous run's id, ``durable_through`` (every row
  received before it is in a closed file), ``audited_through`` (every tracked market was reconciled with the
  Data API up to it), the last file key, the tracked markets and whether it stopped cleanly.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def sidecar_dir(data_dir: str | os.PathLike) -> Path:
    return Path(data_dir) / "ws_sidecar"


def status_path(data_dir: str | os.PathLike) -> Path:
    return sidecar_dir(data_dir) / "status.json"


def state_path(data_dir: str | os.PathLike) -> Path:
    return sidecar_dir(data_dir) / "state.json"


def read_json(path: Path) -> dict | None:
    """The JSON object in ``path``; None when it is missing, unreadable or not an object."""
    try:
        with open(path, encoding="utf-8") as handle:
            value = json.load(handle)
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None
