"""A tiny code location served by the production topology in place of polymarket_assets, so the run path
(queue -> daemon -> DefaultRunLauncher -> run worker in the user-code server -> Postgres) can be tested
with a job whose timing and output the test controls. Each run writes where and when it ran to
$PM_DATA_DIR/probe/<run_id>.json."""

import json
import os
import time
from pathlib import Path

import dagster as dg

PROBE_SECONDS = 2.0


def _ancestors(pid: int) -> list[int]:
    chain = []
    while pid > 1:
        chain.append(pid)
        stat = Path(f"/proc/{pid}/stat").read_text()
        pid = int(stat.rsplit(")", 1)[1].split()[1])
    return chain


@dg.asset(pool="polymarket_api", group_name="deploy_probe", kinds={"python"})
def run_probe(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """Holds the run open for a few seconds and records the process tree and environment it ran in."""
    started = time.time()
    time.sleep(PROBE_SECONDS)
    record = {
        "run_id": context.run_id,
        "tier": context.run.tags.get("tier"),
        "ancestors": _ancestors(os.getpid()),
        "pm_data_dir": os.environ["PM_DATA_DIR"],
        "start": started,
        "end": time.time(),
    }
    out = Path(os.environ["PM_DATA_DIR"]) / "probe"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{context.run_id}.json").write_text(json.dumps(record))
    context.log.info("probe ran in pid %s", os.getpid())
    return dg.MaterializeResult(metadata={"dagster/row_count": 1})


# In-process: the test is about where runs execute and how they are queued, not step subprocesses.
probe_job = dg.define_asset_job("probe_job", selection=[run_probe], executor_def=dg.in_process_executor)

defs = dg.Definitions(assets=[run_probe], jobs=[probe_job])
