"""Drive the collection assets against a paused simulator, stepping its clock through exact instants.

The simulator runs with speed 0, so "now" moves only when the test says so. Slot runs execute in threads
(as the daemon would run them concurrently) and wait on the simulated clock; the stepper sets the clock to
each scheduled instant in turn and waits until every sweep due at that instant has logged itself.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import dagster as dg
import pytest

from polymarket_assets.defs.partitions import hourly_partitions
from polymarket_assets.defs.snapshots.schedules import snapshot_run_request
from polymarket_assets.lib.parquet_store import Lake
from polymarket_assets.lib.tiers import DEFAULT_PLAN, slot_instants
from polymarket_tools.local_runner import LocalRunPool


@contextmanager
def sim_dagster_env(sim, tmp_path_factory) -> Iterator[dict]:
    """The environment a run worker sees against `sim` (its URLs and clock), an empty data dir and a temporary
    SQLite Dagster instance, undone on exit."""
    data_dir = tmp_path_factory.mktemp("data")
    home = tmp_path_factory.mktemp("dagster_home")
    patch = pytest.MonkeyPatch()
    for key, value in {
        **sim.env,
        "PM_CLOCK": "sim",
        "PM_DATA_DIR": str(data_dir),
        "DAGSTER_HOME": str(home),
    }.items():
        patch.setenv(key, value)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    instance = dg.DagsterInstance.get()
    try:
        yield {"data_dir": data_dir, "instance": instance, "sim": sim}
    finally:
        instance.dispose()
        patch.undo()


def load_defs() -> dg.Definitions:
    from polymarket_assets.definitions import defs

    return defs()


def run_job(defs, instance, job_name: str, partition_key: str, run_config: dict | None = None, tags=None):
    job = defs.resolve_job_def(job_name)
    return job.execute_in_process(
        run_config=run_config or {},
        partition_key=partition_key,
        instance=instance,
        tags=tags or {},
        raise_on_error=False,
    )


def partition_of(ts: datetime) -> str:
    return hourly_partitions.get_partition_key_for_timestamp(ts.timestamp())


def sweep_logged(lake: Lake, tier: str, instant: datetime) -> bool:
    parts = {"tier": tier, "date": instant.strftime("%Y-%m-%d"), "hour": instant.strftime("%H")}
    stem = f"slot-{instant:%Y%m%dT%H%M%S}-"
    return any(p.name.startswith(stem) for p in lake.files("sweeps", parts))


def run_slots(
    sim, lake: Lake, slot: datetime, tiers: list[str], overrides: dict | None = None, timeout_s: float = 60.0
) -> list:
    """Launch one slot run per tier for `slot` (in forked workers) and step the paused clock through their instants."""
    plan = {t: slot_instants(DEFAULT_PLAN.by_name(t), slot) for t in tiers}
    with LocalRunPool(workers=len(tiers)) as pool:
        futures = []
        for tier in tiers:
            request = snapshot_run_request(DEFAULT_PLAN.by_name(tier), slot - timedelta(minutes=1))
            futures.append((tier, pool.submit_request(f"snapshots_{tier.lower()}_job", request, overrides)))
        runs = dict(futures)
        for instant in sorted({i for values in plan.values() for i in values}):
            sim.control.set_time(instant.timestamp())
            due = [t for t, values in plan.items() if instant in values]
            deadline = time.monotonic() + timeout_s
            # Each due run either logs its sweep or ends (failed: its result says why); one tier's run that
            # is done already does not let the clock move on before a slower tier has swept.
            while not all(sweep_logged(lake, t, instant) or runs[t].done() for t in due):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"sweeps {due} for {instant} did not finish")
                time.sleep(0.02)
        return [(tier, f.result()) for tier, f in futures]
