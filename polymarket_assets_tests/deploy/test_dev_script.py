"""`scripts/dev.sh` (make dev, make dev-sim).

With PM_SOURCE=sim it starts the simulator and hands its URLs to every process — even when a `.env` beside
it points at real Polymarket, which Dagster's CLIs would otherwise load over the environment — prints the
endpoints, data directory and DAGSTER_HOME it uses, uses the dev instance config (SQLite under its
DAGSTER_HOME), listens on loopback only, and Ctrl-C (SIGINT to its process group) or SIGTERM stops every
process it started, the recorder's lock released. With PM_SOURCE=real and no network it refuses to start,
within seconds, with a plain message."""

import fcntl
import os
import signal
import subprocess
import sys
import time

import pytest
import requests

from polymarket_assets_tests.deploy.dev_stack import fake_checkout, running_dev_stack
from polymarket_assets_tests.deploy.topology import (
    REPO_ROOT,
    base_env,
    descendants,
    is_loopback,
    listening_tcp_sockets,
    process_cmdline,
    process_environ,
)
from ws_sidecar.config import load_config

SIM_KEYS = ("PM_GAMMA_URL", "PM_CLOB_URL", "PM_DATA_API_URL", "PM_WS_URL", "PM_SIM_CONTROL_URL")
# What a developer's .env, copied from .env.example, holds: production endpoints and clock.
HOSTILE_DOTENV = """\
PM_GAMMA_URL=https://gamma-api.polymarket.com
PM_CLOB_URL=https://clob.polymarket.com
PM_DATA_API_URL=https://data-api.polymarket.com
PM_WS_URL=wss://ws-subscriptions-clob.polymarket.com/ws/market
PM_CLOCK=system
PM_SIM_CONTROL_URL=
PM_DATA_DIR=/nonexistent/real-data
"""


def _find(pids: set[int], needle: str) -> int:
    for pid in pids:
        try:
            if any(needle in part for part in process_cmdline(pid)):
                return pid
        except OSError:
            continue
    raise AssertionError(f"no process running {needle}")


@pytest.mark.parametrize(
    ("stop_signal", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"]
)
def test_dev_script_runs_against_the_simulator_whatever_dotenv_says_and_stops_cleanly(
    tmp_path, stop_signal, status
):
    checkout = fake_checkout(tmp_path / "checkout")
    (checkout / ".env").write_text(HOSTILE_DOTENV)
    with running_dev_stack(tmp_path, {"PM_SIM_ARGS": "--markets 5 --speed 0"}, checkout=checkout) as stack:
        entry = stack.wait_loaded(timeout=150)
        assert entry["locationOrLoadError"]["__typename"] == "RepositoryLocation", entry[
            "locationOrLoadError"
        ]

        started = descendants(stack.script.pid)
        webserver, daemon = _find(started, "dagster-webserver"), _find(started, "dagster-daemon")
        _find(started, "polymarket_sim")
        recorder = _find(started, "ws_sidecar")

        # The dev instance config, on SQLite files under the chosen home.
        assert (stack.home / "dagster.yaml").read_bytes() == (
            REPO_ROOT / "deploy/dagster.dev.yaml"
        ).read_bytes()
        assert (stack.home / "history" / "runs.db").is_file()

        # Every process below dev.sh — code servers included, which inherit what the webserver and daemon
        # loaded from .env — sees the simulator's URLs, its clock, the home and the data directory.
        code_servers = {
            pid
            for pid in started
            if any("grpc" in part or "code-server" in part for part in process_cmdline(pid))
        }
        assert code_servers, [process_cmdline(pid) for pid in started]
        for pid in {webserver, daemon, recorder, *code_servers}:
            environ = process_environ(pid)
            assert environ["DAGSTER_HOME"] == str(stack.home) and environ["PM_DATA_DIR"] == str(stack.data)
            assert environ["PM_CLOCK"] == "sim", (process_cmdline(pid), environ["PM_CLOCK"])
            for key in SIM_KEYS:
                assert environ[key].split("://", 1)[1].startswith("127.0.0.1:"), (
                    process_cmdline(pid),
                    key,
                    environ[key],
                )
        gamma = process_environ(daemon)["PM_GAMMA_URL"]
        response = requests.get(f"{gamma}/markets", params={"limit": 1}, timeout=10)
        assert response.status_code == 200 and isinstance(response.json(), list)

        # The banner says what is used.
        banner = stack.log()
        for line in (
            f"gamma         {gamma}",
            f"data dir      {stack.data}",
            f"DAGSTER_HOME  {stack.home}",
            "clock         sim",
        ):
            assert f"[dev] {line}" in banner, banner[-3000:]
        assert ".env ignored" in banner

        sockets = listening_tcp_sockets(sorted(started))
        assert sockets and all(is_loopback(address) for address, _ in sockets), sockets
        assert stack.port in {p for _, p in sockets}

        assert stack.stop(stop_signal) == status

    # The recorder's lock is free for the next session.
    lock = load_config({"PM_DATA_DIR": str(stack.data)}).sidecar_dir / "lock"
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)


def test_dev_against_real_polymarket_refuses_to_start_offline_within_seconds(tmp_path):
    checkout = fake_checkout(tmp_path / "checkout")
    started = time.monotonic()
    result = subprocess.run(
        ["bash", "scripts/dev.sh"],
        cwd=checkout,
        env=base_env({"PM_SOURCE": "real", "PM_DEV_HOME": str(tmp_path / "home"), "PY": sys.executable}),
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stderr[-3000:]
    assert "cannot reach Polymarket" in result.stderr and "make dev-sim" in result.stderr, result.stderr[
        -3000:
    ]
    assert "cannot resolve host 'gamma-api.polymarket.com'" in result.stderr
    assert "[dev] started" not in result.stderr, "nothing may start when the APIs cannot be reached"
    assert elapsed < 30, f"took {elapsed:.0f} s"
