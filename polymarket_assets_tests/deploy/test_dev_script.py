"""`scripts/dev.sh` (make dev) with PM_SOURCE=sim: it starts the simulator and hands its URLs to the
webserver and daemon, uses the dev instance config (SQLite under its DAGSTER_HOME), loads the code
location, listens on loopback only, and Ctrl-C (SIGINT to its process group) stops every process it
started."""

import os
import signal
import subprocess
import sys

import requests

from polymarket_assets_tests.deploy.topology import (
    LOCATION_NAME,
    LOCATION_QUERY,
    REPO_ROOT,
    ProcessDied,
    base_env,
    descendants,
    free_port,
    is_loopback,
    listening_tcp_sockets,
    process_cmdline,
    process_environ,
    wait_until,
)

SIM_KEYS = ("PM_GAMMA_URL", "PM_CLOB_URL", "PM_DATA_API_URL", "PM_WS_URL", "PM_SIM_CONTROL_URL")


def _find(pids: set[int], needle: str) -> int:
    for pid in pids:
        try:
            if any(needle in part for part in process_cmdline(pid)):
                return pid
        except OSError:
            continue
    raise AssertionError(f"no process running {needle}")


def test_dev_script_runs_against_the_simulator_and_stops_cleanly_on_ctrl_c(tmp_path):
    home, data, port = tmp_path / "home", tmp_path / "data", free_port()
    log_path = tmp_path / "dev.log"
    env = base_env(
        {
            "PM_SOURCE": "sim",
            "PM_SIM_ARGS": "--markets 5 --speed 0",
            "PM_DEV_HOME": str(home),
            "PM_DATA_DIR": str(data),
            "DAGSTER_WEBSERVER_PORT": str(port),
            "PM_WS_SIDECAR": "0",
            "PY": sys.executable,
        }
    )
    with open(log_path, "wb") as log:
        script = subprocess.Popen(
            ["bash", "scripts/dev.sh"],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    started: set[int] = set()
    try:

        def location_loaded() -> bool:
            if script.poll() is not None:
                raise ProcessDied(f"dev.sh exited with {script.returncode}")
            response = requests.post(
                f"http://127.0.0.1:{port}/graphql", json={"query": LOCATION_QUERY}, timeout=10
            )
            entries = response.json()["data"]["workspaceOrError"]["locationEntries"]
            (entry,) = [e for e in entries if e["name"] == LOCATION_NAME]
            return entry["loadStatus"] == "LOADED" and entry

        entry = wait_until(
            location_loaded, timeout=150, interval=0.5, what="the dev webserver to load the code"
        )
        assert entry["locationOrLoadError"]["__typename"] == "RepositoryLocation", entry[
            "locationOrLoadError"
        ]

        started = descendants(script.pid)
        webserver, daemon = _find(started, "dagster-webserver"), _find(started, "dagster-daemon")
        _find(started, "polymarket_sim")

        # The dev instance config, on SQLite files under the chosen home.
        assert (home / "dagster.yaml").read_bytes() == (REPO_ROOT / "deploy/dagster.dev.yaml").read_bytes()
        assert (home / "history" / "runs.db").is_file()

        # Both Dagster processes got the simulator's URLs, the home and the data directory.
        for pid in (webserver, daemon):
            environ = process_environ(pid)
            assert environ["DAGSTER_HOME"] == str(home) and environ["PM_DATA_DIR"] == str(data)
            for key in SIM_KEYS:
                assert environ[key].split("://", 1)[1].startswith("127.0.0.1:"), (key, environ[key])
        gamma = process_environ(daemon)["PM_GAMMA_URL"]
        response = requests.get(f"{gamma}/markets", params={"limit": 1}, timeout=10)
        assert response.status_code == 200 and isinstance(response.json(), list)

        sockets = listening_tcp_sockets(sorted(started))
        assert sockets and all(is_loopback(address) for address, _ in sockets), sockets
        assert port in {p for _, p in sockets}

        # Ctrl-C: the terminal sends SIGINT to the foreground process group, which is dev.sh's.
        os.killpg(script.pid, signal.SIGINT)
        assert script.wait(timeout=60) == 130

        # Grandchildren killed in the last step of the shutdown may take a moment to finish dying.
        def all_gone() -> bool:
            return not {pid for pid in started if not _is_zombie(pid)}

        wait_until(all_gone, timeout=10, what=f"every process dev.sh started to exit: {sorted(started)}")
    except BaseException:
        print(log_path.read_text(errors="replace")[-6000:])
        raise
    finally:
        # On failure, let dev.sh's own trap stop its children first (they sit in process groups of their
        # own, so killing the script's group would orphan them), then kill whatever is left.
        started |= descendants(script.pid)
        if script.poll() is None:
            os.killpg(script.pid, signal.SIGTERM)
            try:
                script.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(script.pid, signal.SIGKILL)
                script.wait(timeout=10)
        for pid in started:
            if not _is_zombie(pid):
                os.kill(pid, signal.SIGKILL)


def _is_zombie(pid: int) -> bool:
    """True for a zombie or a process that is gone."""
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
