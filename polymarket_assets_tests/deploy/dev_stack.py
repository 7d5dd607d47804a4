"""`scripts/dev.sh` as a user runs it (`make dev-sim`), for tests and the soak benchmark: start it on a free
port with its own DAGSTER_HOME and data directory, wait until the UI has loaded the code, query GraphQL,
and stop it the way a terminal does (a signal to its process group)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from polymarket_assets_tests.deploy.topology import (
    LOCATION_NAME,
    LOCATION_QUERY,
    REPO_ROOT,
    GraphQLError,
    ProcessDied,
    base_env,
    descendants,
    free_port,
    wait_until,
)

# What dev.sh reads from a checkout: itself, the dev instance config, the workspace and the packages.
CHECKOUT_ENTRIES = (
    "deploy",
    "workspace.local.yaml",
    "pyproject.toml",
    "polymarket_assets",
    "polymarket_sim",
    "ws_sidecar",
)


def fake_checkout(root: Path) -> Path:
    """A checkout of this repository under `root` (scripts/dev.sh copied, the rest symlinked), so a test
    can put a `.env` beside it without touching the developer's own."""
    (root / "scripts").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "scripts" / "dev.sh", root / "scripts" / "dev.sh")
    for name in CHECKOUT_ENTRIES:
        (root / name).symlink_to(REPO_ROOT / name)
    return root


@dataclass
class DevStack:
    script: subprocess.Popen
    port: int
    home: Path
    data: Path
    log_path: Path
    started: set[int] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None, timeout: float = 60) -> dict:
        response = requests.post(
            f"{self.url}/graphql", json={"query": query, "variables": dict(variables or {})}, timeout=timeout
        )
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise GraphQLError(str(body["errors"])[:2000])
        return body["data"]

    def wait_loaded(self, timeout: float = 240) -> dict:
        def loaded() -> dict | None:
            if self.script.poll() is not None:
                raise ProcessDied(f"dev.sh exited with {self.script.returncode}")
            entries = self.graphql(LOCATION_QUERY, timeout=10)["workspaceOrError"]["locationEntries"]
            (entry,) = [e for e in entries if e["name"] == LOCATION_NAME]
            return entry if entry["loadStatus"] == "LOADED" else None

        return wait_until(loaded, timeout=timeout, interval=0.5, what="the dev webserver to load the code")

    def stop(self, sig: int = signal.SIGINT, timeout: float = 60) -> int:
        """Signal dev.sh's process group as a terminal does; return its exit status once every process it
        started (recorded in `started`) has gone."""
        self.started |= descendants(self.script.pid)
        os.killpg(self.script.pid, sig)
        status = self.script.wait(timeout=timeout)
        wait_until(
            lambda: not [pid for pid in self.started if is_alive(pid)],
            timeout=15,
            what=f"every process dev.sh started to exit: {sorted(self.started)}",
        )
        return status


def is_alive(pid: int) -> bool:
    """False for a zombie or a process that is gone."""
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@contextlib.contextmanager
def running_dev_stack(
    tmp: Path, overrides: Mapping[str, str], checkout: Path = REPO_ROOT, source: str = "sim"
) -> Iterator[DevStack]:
    """dev.sh of `checkout` with PM_SOURCE=`source`, a fresh home and data directory under `tmp`, a free port
    and the given extra environment. On the way out, whatever is still running is stopped (and on a failure
    the tail of dev.sh's output is printed)."""
    home, data, port = tmp / "home", tmp / "data", free_port()
    log_path = tmp / "dev.log"
    env = base_env(
        {
            "PM_SOURCE": source,
            "PM_DEV_HOME": str(home),
            "PM_DATA_DIR": str(data),
            "DAGSTER_WEBSERVER_PORT": str(port),
            "PY": sys.executable,
            **overrides,
        }
    )
    with open(log_path, "wb") as log:
        script = subprocess.Popen(
            ["bash", "scripts/dev.sh"],
            cwd=checkout,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    stack = DevStack(script, port, home, data, log_path)
    try:
        yield stack
    except BaseException:
        print(stack.log()[-8000:])
        raise
    finally:
        # Let dev.sh's own trap stop its children first (they sit in process groups of their own, so
        # killing the script's group alone would orphan them), then kill whatever is left.
        stack.started |= descendants(script.pid)
        if script.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(script.pid, signal.SIGTERM)
            try:
                script.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(script.pid, signal.SIGKILL)
                script.wait(timeout=10)
        for pid in stack.started:
            if is_alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
