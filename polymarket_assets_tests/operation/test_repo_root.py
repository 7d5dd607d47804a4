"""Dagster habits in the repository root with no environment at all: the resources carry the documented
defaults, `dagster asset materialize` and `dagster dev` run on a local SQLite instance (the production
Postgres config lives in deploy/ and is selected explicitly), and an offline `markets` run fails at once
with a plain reason and no retries instead of an open circuit breaker a minute later."""

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime

import dagster as dg
import pytest
import requests

from polymarket_assets.defs.resources import PolymarketApiResource, polymarket_run_config, resources
from polymarket_assets.lib.settings import DEFAULTS
from polymarket_assets_tests.deploy.topology import (
    LOCATION_NAME,
    LOCATION_QUERY,
    REPO_ROOT,
    base_env,
    free_port,
    wait_until,
)

INSTANCE_QUERY = "query { instance { info } }"


@pytest.fixture
def no_pm_environment(monkeypatch):
    for name in list(os.environ):
        if name.startswith(("PM_", "DAGSTER_")):
            monkeypatch.delenv(name)


def test_resources_carry_the_documented_defaults_when_nothing_is_set(no_pm_environment):
    bound = resources().resources
    assert bound["polymarket"].gamma_url == DEFAULTS["PM_GAMMA_URL"] == "https://gamma-api.polymarket.com"
    assert bound["polymarket"].clob_url == "https://clob.polymarket.com"
    assert bound["polymarket"].data_api_url == "https://data-api.polymarket.com"
    assert bound["lake"].data_dir == "data"
    assert (bound["clock"].source, bound["clock"].sim_control_url) == ("system", "")
    config = polymarket_run_config(max_retries=1)["resources"]["polymarket"]["config"]
    assert config == {"gamma_url": DEFAULTS["PM_GAMMA_URL"], "clob_url": DEFAULTS["PM_CLOB_URL"],
                      "data_api_url": DEFAULTS["PM_DATA_API_URL"], "max_retries": 1}


def test_a_set_variable_is_bound_as_an_env_var(no_pm_environment, monkeypatch):
    monkeypatch.setenv("PM_GAMMA_URL", "http://127.0.0.1:9/gamma")
    assert polymarket_run_config()["resources"]["polymarket"]["config"]["gamma_url"] == {"env": "PM_GAMMA_URL"}


def test_an_unresolvable_host_is_a_failure_that_retrying_cannot_fix():
    api = PolymarketApiResource(gamma_url="https://gamma.invalid", clob_url="https://clob.invalid", data_api_url="https://data.invalid")
    with pytest.raises(dg.Failure) as failure:
        api.gamma  # noqa: B018 - building the client is what checks the host
    assert failure.value.allow_retries is False
    assert "cannot resolve host 'gamma.invalid'" in failure.value.description
    assert "PM_GAMMA_URL" in failure.value.description


def test_materialize_markets_from_the_repo_root_with_no_environment(tmp_path):
    """Offline (as the suite always is) the default real Polymarket host does not resolve."""
    partition = datetime.now(UTC).strftime("%Y-%m-%d-%H:00")
    started = time.monotonic()
    result = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "dagster"), "asset", "materialize",
         "-m", "polymarket_assets.definitions", "--select", "markets", "--partition", partition],
        check=False, cwd=REPO_ROOT, env=base_env({}), capture_output=True, text=True, timeout=180,
    )
    elapsed = time.monotonic() - started
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "DAGSTER_PG" not in output and "is not set" not in output, output[-3000:]
    assert "PM_GAMMA_URL: cannot resolve host 'gamma-api.polymarket.com'" in output, output[-3000:]
    assert "STEP_UP_FOR_RETRY" not in output and "CircuitOpenError" not in output
    assert elapsed < 60, f"took {elapsed:.0f} s"
    assert not list(REPO_ROOT.glob(".tmp_dagster_home_*")), "the temporary instance was not removed"


def test_plain_dagster_dev_in_the_repo_root_runs_on_sqlite():
    port = free_port()
    process = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "dagster"), "dev", "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO_ROOT, env=base_env({}), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        def loaded() -> dict | None:
            if process.poll() is not None:
                raise AssertionError(f"dagster dev exited with {process.returncode}: {process.stdout.read().decode()[-3000:]}")
            body = requests.post(f"http://127.0.0.1:{port}/graphql", json={"query": LOCATION_QUERY}, timeout=10).json()
            (entry,) = [e for e in body["data"]["workspaceOrError"]["locationEntries"] if e["name"] == LOCATION_NAME]
            return entry if entry["loadStatus"] == "LOADED" else None

        entry = wait_until(loaded, timeout=180, interval=1, what="dagster dev to load the code location")
        assert entry["locationOrLoadError"]["__typename"] == "RepositoryLocation", entry
        info = requests.post(f"http://127.0.0.1:{port}/graphql", json={"query": INSTANCE_QUERY}, timeout=10).json()
        assert "SqliteRunStorage" in info["data"]["instance"]["info"], info
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    wait_until(lambda: not list(REPO_ROOT.glob(".tmp_dagster_home_*")), timeout=30, what="dagster dev to remove its temporary instance")
