"""Fixtures for the deployment tests: a fresh Postgres database per test, dropped afterwards, and the
headless Chromium the asset-graph screenshot needs (Debian's `chromium`, installed on first use)."""

import fcntl
import os
import shutil
import subprocess
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from polymarket_assets_tests.deploy.topology import PgDatabase, fresh_postgres_database


@pytest.fixture
def pg_database() -> Iterator[PgDatabase]:
    with fresh_postgres_database() as database:
        yield database


def _install_chromium(lock_path: Path) -> str:
    """Path of the `chromium` binary; installs Debian's package first when it is missing (CI runs as root).
    Parallel workers (`pytest -n`) take turns through `lock_path`: one installs, the others then find it."""
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = shutil.which("chromium")
        if found:
            return found
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
            result = subprocess.run(argv, env=env, check=False, capture_output=True, text=True, timeout=900)
            if result.returncode != 0:
                raise RuntimeError(
                    f"{' '.join(argv)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
                )
    found = shutil.which("chromium")
    if not found:
        raise RuntimeError("apt-get installed chromium but no `chromium` is on PATH")
    return found


@pytest.fixture(scope="session")
def chromium_install(tmp_path_factory) -> Iterator[Future]:
    """The chromium binary, as a future: the install (if any) runs while the topology starts and works."""
    # The parent of this process's base temp directory is shared by every worker of the run.
    lock_path = tmp_path_factory.getbasetemp().parent / "chromium-install.lock"
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="chromium-install") as pool:
        yield pool.submit(_install_chromium, lock_path)
