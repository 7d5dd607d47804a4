"""A full disk under a running recorder: it keeps running, keeps what it can, records a gap for what it must
drop, says so in its status, and catches up when space comes back.

The data directory is a 2 MiB tmpfs filled to the last byte when the machine lets the test mount one (real
ENOSPC from the kernel); otherwise every file write of the recorder raises OSError(ENOSPC) while the disk is
"full" (files around it stay real). The recorder's own main loop and writer thread run in-process.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from polymarket_assets.lib.incoming import list_incoming
from ws_sidecar import files, recorder, state
from ws_sidecar.config import SidecarConfig
from ws_sidecar.recorder import Recorder

from .conftest import wait

CID = "0x" + "d1" * 32


def trade(uid: str) -> tuple:
    now_ms = time.time_ns() // 1_000_000
    return (
        uid,
        "ws",
        "1" * 77,
        CID,
        "BUY",
        0.5,
        10.0,
        0.0,
        now_ms,
        now_ms * 1000,
        None,
        None,
        None,
        "c00",
        "r1",
    )


class TmpfsDisk:
    """A real 2 MiB filesystem; `fill()` takes every free byte, `free()` gives them back."""

    def __init__(self, root: Path):
        self.root = root
        self.filler = root / "filler"

    def fill(self) -> None:
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * 4096)
        finally:
            os.close(fd)

    def free(self) -> None:
        self.filler.unlink()


class InjectedDisk:
    """No mount allowed: while `full`, the recorder's file writes (Parquet and JSON) raise ENOSPC."""

    def __init__(self, root: Path, monkeypatch):
        self.root = root
        self.full = False
        real_write, real_json = files.write_atomic, state.write_json_atomic

        def write_atomic(table, path, **kwargs):
            if self.full:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
            return real_write(table, path, **kwargs)

        def write_json_atomic(path, payload):
            if self.full:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
            return real_json(path, payload)

        monkeypatch.setattr(files, "write_atomic", write_atomic)
        monkeypatch.setattr(recorder, "write_json_atomic", write_json_atomic)

    def fill(self) -> None:
        self.full = True

    def free(self) -> None:
        self.full = False


@pytest.fixture
def disk(tmp_path, monkeypatch):
    root = tmp_path / "disk"
    root.mkdir()
    try:
        mounted = (
            subprocess.run(
                ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(root)],
                capture_output=True,
                check=False,
            ).returncode
            == 0
        )
    except OSError:  # no mount(8) at all
        mounted = False
    try:
        yield TmpfsDisk(root) if mounted else InjectedDisk(root, monkeypatch)
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(root)], check=False)


def read_status(cfg) -> dict:
    try:
        return json.loads(cfg.status_path.read_text())
    except (OSError, ValueError):
        return {}


def incoming_rows(data_dir: Path, kind: str) -> list[dict]:
    tables = [pq.read_table(f.path) for f in list_incoming(data_dir, [kind])]
    return pa.concat_tables(tables).to_pylist() if tables else []


def test_a_full_disk_never_stops_the_recorder_and_every_loss_is_a_recorded_gap(disk):
    cfg = SidecarConfig(
        data_dir=disk.root / "data",
        flush_interval_s=0.3,
        status_interval_s=0.1,
        refresh_s=3600,
        max_buffered_rows=50,
        data_api_url="http://127.0.0.1:9",
        clob_url="http://127.0.0.1:9",
    )
    rec = Recorder(cfg)
    thread = threading.Thread(target=rec.run, daemon=True)
    thread.start()
    try:
        wait(lambda: read_status(cfg).get("state") == "running", 10, "a first status")
        rec.writer.add_rows("trades", [trade(f"before-{i}") for i in range(20)])
        wait(lambda: len(incoming_rows(cfg.data_dir, "trades")) == 20, 10, "the first rows on disk")

        disk.fill()
        rec.writer.add_rows("trades", [trade(f"kept-{i}") for i in range(30)])  # 30 <= 50: kept in memory
        wait(lambda: rec.writer.failing_since is not None, 10, "a failed flush")
        time.sleep(1.0)  # several status ticks and flush attempts on the full disk
        assert thread.is_alive(), "the recorder must keep running on a full disk"
        assert rec.status_write_errors > 0 and not rec.writer.rows_dropped
        first_drop = time.time_ns() // 1000
        rec.writer.add_rows("trades", [trade(f"dropped-{i}") for i in range(40)])  # 70 > 50: shed, with a gap
        wait(lambda: rec.writer.rows_dropped, 10, "buffered rows shed to bound memory")
        rec.writer.add_rows("trades", [trade(f"after-{i}") for i in range(10)])
        time.sleep(0.5)
        assert thread.is_alive()

        disk.free()
        freed = time.time()

        def recovered() -> dict | None:
            s = read_status(cfg)  # a status written after the space came back (the last one before is stale)
            fresh = (
                s.get("updated_at_wall", 0) > freed
                and not s.get("writes_failing")
                and s.get("pending_rows") == 0
            )
            return s if fresh else None

        status = wait(recovered, 15, "recovery after space came back")
        assert (
            status["state"] == "running" and status["status_write_errors"] > 0 and status["writer_errors"] > 0
        )
        assert status["rows_dropped"] == {"trades": 70}
        assert "ENOSPC" in status["writer_last_error"] or "No space left" in status["writer_last_error"]
        uids = sorted(r["trade_uid"] for r in incoming_rows(cfg.data_dir, "trades"))
        assert uids == sorted([f"before-{i}" for i in range(20)] + [f"after-{i}" for i in range(10)])
        gaps = wait(
            lambda: [g for g in incoming_rows(cfg.data_dir, "ws_gaps") if g["reason"] == "write_failed"],
            10,
            "the gap row of the dropped rows",
        )
        [gap] = gaps
        assert gap["connection_id"] == "recorder" and "dropped" in gap["detail"]
        assert gap["start_ts"].timestamp() * 1e6 <= first_drop and gap["end_ts"] >= gap["start_ts"]
    finally:
        rec.request_stop()
        thread.join(timeout=30)
    assert not thread.is_alive()
