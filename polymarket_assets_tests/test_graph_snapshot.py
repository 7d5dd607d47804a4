"""The code location's graph, pinned in `graph_snapshot.json` so that any change to it shows up in review.

Recorded: every asset (deps, group, kinds, partitions, automation condition, freshness policy, check names), every
asset check, job, schedule and sensor. Left out is whatever depends on the machine or the day: the partitions'
start (the collection start comes from the environment or the lake), descriptions, paths.

After an intended change, rewrite the file and review its diff:
`PM_UPDATE_GRAPH_SNAPSHOT=1 pytest polymarket_assets_tests/test_graph_snapshot.py`.
"""

import difflib
import json
import os
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.definitions.freshness import TimeWindowFreshnessPolicy

from polymarket_assets.definitions import defs

SNAPSHOT = Path(__file__).with_name("graph_snapshot.json")
UPDATE_SETTING = "PM_UPDATE_GRAPH_SNAPSHOT"
UPDATE_HOW = f"{UPDATE_SETTING}=1 pytest polymarket_assets_tests/test_graph_snapshot.py"


def _key(key: dg.AssetKey) -> str:
    return key.to_user_string()


def _check_key(key: dg.AssetCheckKey) -> str:
    return f"{_key(key.asset_key)}:{key.name}"


def _entity_key(key: dg.AssetKey | dg.AssetCheckKey) -> str:
    return _check_key(key) if isinstance(key, dg.AssetCheckKey) else _key(key)


def _partitions(partitions_def: dg.PartitionsDefinition | None) -> dict | None:
    if partitions_def is None:
        return None
    if isinstance(partitions_def, dg.TimeWindowPartitionsDefinition):
        # The schedule of the windows, not where they start.
        return {
            "type": type(partitions_def).__name__,
            "cron_schedule": partitions_def.cron_schedule,
            "timezone": partitions_def.timezone,
            "fmt": partitions_def.fmt,
            "end_offset": partitions_def.end_offset,
        }
    return {"type": type(partitions_def).__name__, "description": str(partitions_def)}


def _condition(condition: dg.AutomationCondition | None) -> str | None:
    """A condition's label, or its operator over its operands' (`AND(OR(never built, start-up), NOT(in_progress))`)."""
    if condition is None:
        return None
    if condition.get_label() or not condition.children:
        return condition.get_label() or condition.name
    return f"{condition.name}({', '.join(_condition(child) for child in condition.children)})"


def _freshness(policy: dg.FreshnessPolicy | None) -> dict | str | None:
    if policy is None:
        return None
    if isinstance(policy, TimeWindowFreshnessPolicy):
        return {
            "type": "time_window",
            "fail_window": str(policy.fail_window.to_timedelta()),
            "warn_window": str(policy.warn_window.to_timedelta()) if policy.warn_window else None,
        }
    return repr(policy)


def _assets(graph) -> dict:
    return {
        _key(key): {
            "deps": sorted(_key(parent) for parent in node.parent_keys),
            "group": node.group_name,
            "kinds": sorted(node.kinds),
            "partitions": _partitions(node.partitions_def),
            "automation_condition": _condition(node.automation_condition),
            "freshness_policy": _freshness(node.freshness_policy),
            "checks": sorted(check.name for check in node.check_keys),
        }
        for key in graph.get_all_asset_keys()
        for node in [graph.get(key)]
    }


def _asset_checks(graph) -> dict:
    return {
        _check_key(key): {
            "deps": sorted(_entity_key(parent) for parent in node.parent_entity_keys),
            "blocking": node.blocking,
            "partitions": _partitions(node.partitions_def),
            "automation_condition": _condition(node.automation_condition),
        }
        for key in graph.asset_check_keys
        for node in [graph.get(key)]
    }


def _jobs(loaded: dg.Definitions) -> dict:
    jobs = {}
    for job in loaded.resolve_all_job_defs():
        if job.name.startswith("__"):  # Dagster's implicit all-assets job
            continue
        layer = job.asset_layer.data
        jobs[job.name] = {
            "assets": sorted(_key(key) for data in layer for key in data.assets_def.keys),
            "checks": sorted(_check_key(key) for data in layer for key in data.assets_def.check_keys),
            "ops": [] if layer else sorted(job.graph.node_names()),
            "partitions": _partitions(job.partitions_def),
        }
    return jobs


def _schedules(loaded: dg.Definitions) -> dict:
    return {
        schedule.name: {
            "cron_schedule": schedule.cron_schedule,
            "timezone": schedule.execution_timezone,
            "job": schedule.job_name,
            "default_status": schedule.default_status.value,
        }
        for schedule in loaded.schedules
    }


def _sensors(loaded: dg.Definitions) -> dict:
    return {
        sensor.name: {
            "type": sensor.sensor_type.value,
            "default_status": sensor.default_status.value,
            "minimum_interval_seconds": sensor.minimum_interval_seconds,
            "jobs": sorted(target.job_name for target in sensor.targets),
            "asset_selection": None if sensor.asset_selection is None else str(sensor.asset_selection),
        }
        for sensor in loaded.sensors
    }


def graph_snapshot(loaded: dg.Definitions) -> str:
    graph = loaded.resolve_asset_graph()
    snapshot = {
        "assets": _assets(graph),
        "asset_checks": _asset_checks(graph),
        "jobs": _jobs(loaded),
        "schedules": _schedules(loaded),
        "sensors": _sensors(loaded),
    }
    return json.dumps(snapshot, indent=2, sort_keys=True) + "\n"


def test_graph_matches_the_committed_snapshot():
    current = graph_snapshot(defs())
    if os.environ.get(UPDATE_SETTING):
        if os.environ.get("CI"):
            pytest.fail(
                f"{UPDATE_SETTING} is set under CI: the snapshot is updated on a developer's machine, "
                "reviewed and committed, never rewritten by the run that checks it"
            )
        SNAPSHOT.write_text(current)
    committed = SNAPSHOT.read_text() if SNAPSHOT.exists() else ""
    if current != committed:
        diff = "".join(
            difflib.unified_diff(
                committed.splitlines(keepends=True),
                current.splitlines(keepends=True),
                fromfile=f"{SNAPSHOT.name} (committed)",
                tofile=f"{SNAPSHOT.name} (code location now)",
            )
        )
        pytest.fail(
            f"The code location's graph differs from {SNAPSHOT.name}:\n{diff}\n"
            f"If the change is intended, update the file and commit it with the change:\n  {UPDATE_HOW}",
            pytrace=False,
        )
