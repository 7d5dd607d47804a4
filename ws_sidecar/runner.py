"""Run the recorder as a subprocess (tests, the demo, ``make dev``), and the demo's figures.

``run_sidecar(env, data_dir, **settings)`` starts ``python -m ws_sidecar`` with ``env`` (the ``PM_*`` URLs, e.g.
a simulator's ``sim.env``) and ``PM_DATA_DIR=data_dir``; keyword settings become ``WS_*`` variables
(``data_timeout_s=3`` → ``WS_DATA_TIMEOUT_S=3``). Given a simulator's env without ``PM_CLOCK`` it uses the
simulator's clock. It waits until the recorder has written its first status, yields a ``SidecarProcess``, and
stops it with SIGTERM on exit.

``demo_figures(data_dir, control)`` computes the demo's numbers from the lake (and the simulator's ground
truth for the capture ratio): ``trades``, ``whale_events``, ``ws_gap_minutes``, ``trade_capture_ratio``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from ws_sidecar.config import env_name
from ws_sidecar.state import read_json

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class SidecarProcess:
    env: dict
    data_dir: Path
    log_path: Path
    process: subprocess.Popen | None = None
    starts: int = 0
    history: list = field(default_factory=list)  # (pid, returncode) of earlier processes

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def status_path(self) -> Path:
        return self.data_dir / "ws_sidecar" / "status.json"

    @property
    def state_path(self) -> Path:
        return self.data_dir / "ws_sidecar" / "state.json"

    def status(self) -> dict | None:
        return read_json(self.status_path)

    def state(self) -> dict | None:
        return read_json(self.state_path)

    def start(self, timeout_s: float = 60.0) -> None:
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError("ws_sidecar is already running")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(
                [sys.executable, "-m", "ws_sidecar"],
                env=self.env,
                cwd=str(REPO_ROOT),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.starts += 1
        self.wait_for(lambda s: s.get("pid") == self.process.pid, timeout_s, what="first status")

    def wait_for(self, predicate, timeout_s: float = 30.0, what: str = "condition", poll_s: float = 0.1) -> dict:
        """Poll the status file until ``predicate(status)`` holds; fail early if the process died."""
        deadline = time.monotonic() + timeout_s
        while True:
            status = self.status()
            if status is not None and predicate(status):
                return status
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"ws_sidecar exited with {self.process.returncode} waiting for {what}; log:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"ws_sidecar: no {what} within {timeout_s} s; status={json.dumps(status)[:1500]}")
            time.sleep(poll_s)

    def kill(self) -> None:
        """SIGKILL: no flush, no state update, exactly like a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)
        self.history.append((self.process.pid, self.process.returncode))

    def terminate(self, timeout_s: float = 60.0) -> int:
        """SIGTERM and wait for the clean exit; SIGKILL if it does not come."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(30)
        self.history.append((self.process.pid, self.process.returncode))
        return self.process.returncode

    def restart(self, timeout_s: float = 60.0) -> None:
        self.start(timeout_s)

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def sidecar_env(env: dict, data_dir: str | os.PathLike, **settings) -> dict:
    full = {**os.environ, **{k: str(v) for k, v in env.items()}, "PM_DATA_DIR": str(data_dir)}
    if "PM_CLOCK" not in env and env.get("PM_SIM_CONTROL_URL"):
        full["PM_CLOCK"] = "sim"
    for key, value in settings.items():
        full[env_name(key)] = ",".join(value) if isinstance(value, (list, tuple)) else str(value)
    full.setdefault("PYTHONUNBUFFERED", "1")
    return full


@contextlib.contextmanager
def run_sidecar(env: dict, data_dir: str | os.PathLike, *, log_path: str | os.PathLike | None = None,
                startup_timeout_s: float = 60.0, **settings) -> Iterator[SidecarProcess]:
    data_dir = Path(data_dir)
    handle = SidecarProcess(
        env=sidecar_env(env, data_dir, **settings),
        data_dir=data_dir,
        log_path=Path(log_path) if log_path else data_dir / "ws_sidecar" / "sidecar.log",
    )
    handle.start(startup_timeout_s)
    try:
        yield handle
    finally:
        handle.terminate()


# -- helpers for tests and benchmarks ----------------------------------------------------------------------


def seed_markets_from_sim(data_dir: str | os.PathLike, control, condition_ids: Iterable[str] | None = None) -> list[dict]:
    """Write ``markets_current`` from the simulator's ground truth (for tests and benchmarks that exercise the
    recorder alone; the demo runs the real ``markets`` asset). Markets not yet resolved are ``open``."""
    from polymarket_assets.lib.parquet_store import Lake
    from polymarket_assets.lib.schemas import MARKET_CURRENT_SCHEMA
    from polymarket_assets.lib.tiers import assign_tier

    now = datetime.fromtimestamp(control.now(), tz=UTC)
    wanted = set(condition_ids) if condition_ids is not None else None
    rows = []
    for m in control.markets():
        if wanted is not None and m["condition_id"] not in wanted:
            continue
        end = datetime.fromtimestamp(m["end_date"], tz=UTC)
        resolved = m["state"] == "resolved"
        rows.append(
            {
                "observed_at": now,
                "gamma_id": m["gamma_id"],
                "condition_id": m["condition_id"],
                "question": m["question"],
                "slug": m["slug"],
                "yes_outcome": m["yes_outcome"],
                "no_outcome": m["no_outcome"],
                "yes_token_id": m["yes_token_id"],
                "no_token_id": m["no_token_id"],
                "outcomes": json.dumps(m["outcomes"]),
                "version": m["version"],
                "end_date": end,
                "closed": resolved,
                "tier": assign_tier(end, now),
                "first_seen_at": now,
                "last_seen_open_at": None if resolved else now,
                "discovery_status": "gone" if resolved else "open",
            }
        )
    Lake(data_dir).replace_partition("markets_current", pa.Table.from_pylist(rows, schema=MARKET_CURRENT_SCHEMA), {})
    return rows


def match_key(asset_id: str, side: str, size: float, price: float, ts_s: int) -> tuple:
    return (asset_id, side, round(float(size), 6), round(float(price), 6), int(ts_s))


def capture_stats(recorded: Iterable[tuple], truth: Iterable[tuple]) -> dict:
    """Multiset comparison of recorded trades with the exchange's, both as ``match_key`` tuples.

    ``duplicates``: recorded rows beyond the number of identical true trades; ``missing``: true trades with no
    recorded row; ``capture_ratio``: matched / true.
    """
    rec, tru = Counter(recorded), Counter(truth)
    matched = sum(min(n, tru[k]) for k, n in rec.items())
    true_total = sum(tru.values())
    return {
        "truth": true_total,
        "recorded": sum(rec.values()),
        "matched": matched,
        "missing": true_total - matched,
        "duplicates": sum(max(0, n - tru[k]) for k, n in rec.items() if k in tru),
        "unexplained": sum(n for k, n in rec.items() if k not in tru),
        "capture_ratio": matched / true_total if true_total else None,
    }


def compare_with_truth(recorded: Iterable[tuple], control, condition_ids: Iterable[str], start: float, end: float) -> dict:
    """``capture_stats`` of recorded trades against the simulator's ground truth, on whole seconds.

    ``recorded``: (asset_id, side, size, price, exchange_ts_ms, condition_id) tuples. Backfilled trades only
    know their second, so the comparison covers the seconds in [ceil(start), floor(end)) on both sides.
    """
    first, stop = math.ceil(start), math.floor(end)
    cids = set(condition_ids)
    rec = [
        match_key(a, s, z, p, ms // 1000)
        for a, s, z, p, ms, cid in recorded
        if cid in cids and first <= ms // 1000 < stop
    ]
    truth = []
    ordered = sorted(cids)
    for i in range(0, len(ordered) if stop > first else 0, 50):  # 50 ids per request keeps the URL short
        truth += control.truth_trades(condition_ids=ordered[i : i + 50], start=first, end=stop)
    tru = [
        match_key(t["asset_id"], t["side"], t["size_num"], t["price_num"], t["timestamp"])
        for t in truth
        if first <= t["timestamp"] < stop
    ]
    return {**capture_stats(rec, tru), "start": first, "end": stop}


def _lake_rows(data_dir: Path, table: str, sql: str) -> list[tuple]:
    import duckdb

    directory = data_dir / "lake" / table
    if not directory.exists() or not any(directory.rglob("*.parquet")):
        return []
    glob = str(directory / "**" / "*.parquet").replace("'", "''")
    con = duckdb.connect()
    try:
        return con.execute(sql.replace("SRC", f"read_parquet('{glob}', hive_partitioning=true, union_by_name=true)")).fetchall()
    finally:
        con.close()


def gap_minutes(intervals: Iterable[tuple[float, float]]) -> float:
    """Minutes covered by the union of (start_s, end_s) intervals."""
    total, current = 0.0, None
    for start, end in sorted(intervals):
        if current is None or start > current[1]:
            if current is not None:
                total += current[1] - current[0]
            current = [start, end]
        else:
            current[1] = max(current[1], end)
    if current is not None:
        total += current[1] - current[0]
    return total / 60.0


def demo_figures(data_dir: str | os.PathLike, control=None, start: float | None = None, end: float | None = None,
                 condition_ids: Iterable[str] | None = None) -> dict:
    """The demo's numbers, from the lake: trades, whale events, minutes of connection gaps, and (given the
    simulator's ``control``) the share of the exchange's trades that were recorded.

    The capture ratio covers ``condition_ids`` (default: the markets the recorder tracks, from its state file)
    over [start, end] (default: from the first recorded trade to the recorder's ``audited_through``, the point
    up to which it has reconciled every market with the Data API).
    """
    data_dir = Path(data_dir)
    trades = _lake_rows(data_dir, "trades", "SELECT asset_id, side, size, price, epoch_ms(exchange_ts), condition_id FROM SRC")
    whales = _lake_rows(data_dir, "whale_events", "SELECT count(*) FROM SRC")
    gaps = _lake_rows(
        data_dir, "ws_gaps",
        "SELECT DISTINCT gap_id, epoch_ms(start_ts), epoch_ms(end_ts) FROM SRC WHERE reason <> 'resync'",
    )
    figures = {
        "trades": len(trades),
        "whale_events": int(whales[0][0]) if whales else 0,
        "ws_gap_minutes": round(gap_minutes((s / 1000, e / 1000) for _, s, e in gaps), 3),
        "trade_capture_ratio": None,
    }
    if control is None or not trades:
        return figures
    state = read_json(data_dir / "ws_sidecar" / "state.json") or {}
    cids = set(condition_ids) if condition_ids is not None else set(state.get("tracked") or [])
    if start is None:
        start = min(t[4] for t in trades) / 1000
    if end is None:
        end = state.get("audited_through") or control.now()
    stats = compare_with_truth(trades, control, cids, start, end)
    figures["trade_capture_ratio"] = round(stats["capture_ratio"], 6) if stats["capture_ratio"] is not None else None
    figures["capture"] = stats
    return figures
