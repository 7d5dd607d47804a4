"""Execute run requests in forked worker processes against the instance in `DAGSTER_HOME`.

Used by the demo and the tests to run many partitioned runs at once without a daemon. Dagster's in-process
executor is not safe to call from several threads of one process (its log capture takes process-wide
locks), so each run gets a forked worker with its own instance handle, as the daemon's launcher would.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Self

_DEFS = None


@dataclass(frozen=True)
class RunOutcome:
    job_name: str
    partition_key: str | None
    run_id: str
    success: bool
    checks: dict[str, bool] = field(default_factory=dict)
    error: str | None = None


def _definitions():
    global _DEFS
    if _DEFS is None:
        from polymarket_assets.definitions import defs

        _DEFS = defs() if callable(defs) else defs
    return _DEFS


def execute_run(
    job_name: str,
    partition_key: str | None,
    run_config: dict | None,
    tags: dict | None,
    asset_selection: list[str] | None = None,
    check_selection: list[tuple[str, str]] | None = None,
) -> RunOutcome:
    import dagster as dg

    instance = dg.DagsterInstance.get()
    try:
        job = _definitions().resolve_job_def(job_name)
        if asset_selection is not None or check_selection is not None:
            # A run request's asset and check selection subset the job, as the daemon's launch would.
            job = job.get_subset(
                asset_selection={dg.AssetKey.from_user_string(k) for k in asset_selection}
                if asset_selection
                else None,
                asset_check_selection=(
                    {dg.AssetCheckKey(dg.AssetKey.from_user_string(a), n) for a, n in check_selection}
                    if check_selection is not None
                    else None
                ),
            )
        result = job.execute_in_process(
            run_config=run_config or {},
            partition_key=partition_key,
            tags=tags or {},
            instance=instance,
            raise_on_error=False,
        )
        checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
        error = None
        if not result.success:
            failures = [ev for ev in result.all_events if ev.is_failure]
            error = str(failures[0].event_specific_data)[:2000] if failures else "run failed"
        return RunOutcome(job_name, partition_key, result.run_id, result.success, checks, error)
    except Exception as exc:  # noqa: BLE001 - Dagster's exceptions do not survive pickling back to the parent
        return RunOutcome(job_name, partition_key, "", False, {}, f"{type(exc).__name__}: {exc}"[:4000])
    finally:
        instance.dispose()


def _warm(hold_s: float) -> int:
    import os
    import time

    _definitions()
    time.sleep(hold_s)  # keep this worker busy so the next warm-up task lands on another one
    return os.getpid()


class LocalRunPool:
    def __init__(self, workers: int = 4):
        self.workers = workers
        self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"))

    def warm_up(self) -> int:
        """Start every worker and load the definitions in it, so the first runs are not late."""
        pids = {f.result() for f in [self._pool.submit(_warm, 0.5) for _ in range(self.workers)]}
        return len(pids)

    def submit(
        self,
        job_name: str,
        partition_key: str | None = None,
        run_config: dict | None = None,
        tags: dict | None = None,
        asset_selection: list[str] | None = None,
        check_selection: list[tuple[str, str]] | None = None,
    ) -> Future:
        return self._pool.submit(
            execute_run, job_name, partition_key, run_config, tags, asset_selection, check_selection
        )

    def submit_request(self, job_name: str, request, overrides: dict | None = None) -> Future:
        """Execute a schedule's or sensor's `RunRequest` (its partition, config, tags and asset selection)."""
        config = merge_config(dict(request.run_config or {}), overrides or {})
        selection = [k.to_user_string() for k in request.asset_selection] if request.asset_selection else None
        checks = (
            [(k.asset_key.to_user_string(), k.name) for k in request.asset_check_keys]
            if request.asset_check_keys is not None
            else None
        )
        return self.submit(
            job_name, request.partition_key, config, dict(request.tags or {}), selection, checks
        )

    def shutdown(self, kill: bool = False) -> None:
        close_pool(self._pool, kill=kill)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type, *_) -> None:
        self.shutdown(kill=exc_type is not None)


def close_pool(pool: ProcessPoolExecutor, kill: bool) -> None:
    """Shut `pool` down; with `kill`, end its workers first instead of waiting for their runs.

    A caller that leaves a pool because of an error (a timeout, a failed assertion) must not wait: a
    snapshot run on the simulated clock waits for instants that the failed caller will never set, so a
    plain `shutdown(wait=True)` would hang until the test's or job's own timeout.
    """
    if kill:
        # The executor exposes no public way to stop running tasks before Python 3.14's terminate_workers.
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            if process.is_alive():
                process.kill()
    pool.shutdown(wait=True, cancel_futures=True)


def merge_config(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        out[key] = merge_config(out.get(key, {}), value) if isinstance(value, dict) else value
    return out
