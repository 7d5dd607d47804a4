"""Run the recorder as a subprocess (tests, the demo, benchmarks).

``run_sidecar(env, data_dir, **settings)`` starts ``python -m ws_sidecar`` with ``env`` (the ``PM_*`` URLs, e.g.
a simulator's ``sim.env``) and ``PM_DATA_DIR=data_dir``; keyword settings become ``WS_*`` variables
(``data_timeout_s=3`` → ``WS_DATA_TIMEOUT_S=3``). Given a simulator's env without ``PM_CLOCK`` it uses the
simulator's clock. It waits until the recorder has written its first status, yields a ``SidecarProcess``, and
stops it with SIGTERM on exit.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from polymarket_assets.lib import recorder_state
from polymarket_assets.lib.recorder_state import read_json
from ws_sidecar.config import env_name

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
        return recorder_state.status_path(self.data_dir)

    @property
    def state_path(self) -> Path:
        return recorder_state.state_path(self.data_dir)

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

    def wait_for(
        self, predicate, timeout_s: float = 30.0, what: str = "condition", poll_s: float = 0.1
    ) -> dict:
        """Poll the status file until ``predicate(status)`` holds; fail early if the process died."""
        deadline = time.monotonic() + timeout_s
        while True:
            status = self.status()
            if status is not None and predicate(status):
                return status
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"ws_sidecar exited with {self.process.returncode} waiting for {what}; log:\n{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"ws_sidecar: no {what} within {timeout_s} s; status={json.dumps(status)[:1500]}"
                )
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
def run_sidecar(
    env: dict,
    data_dir: str | os.PathLike,
    *,
    log_path: str | os.PathLike | None = None,
    startup_timeout_s: float = 60.0,
    **settings,
) -> Iterator[SidecarProcess]:
    data_dir = Path(data_dir)
    handle = SidecarProcess(
        env=sidecar_env(env, data_dir, **settings),
        data_dir=data_dir,
        log_path=Path(log_path) if log_path else recorder_state.sidecar_dir(data_dir) / "sidecar.log",
    )
    handle.start(startup_timeout_s)
    try:
        yield handle
    finally:
        handle.terminate()
