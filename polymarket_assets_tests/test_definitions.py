"""The code location loads, validates with Dagster's own CLI, and its Dagster family is one release."""

import subprocess
import sys
from importlib.metadata import requires, version

import dagster as dg

from polymarket_assets.definitions import defs


def test_definitions_load():
    loaded = defs() if callable(defs) else defs
    assert isinstance(loaded, dg.Definitions) or hasattr(loaded, "get_repository_def")


def test_dagster_definitions_validate_passes():
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-m", "polymarket_assets.definitions"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Validation successful" in result.stdout + result.stderr


def test_dagster_postgres_belongs_to_installed_dagster():
    # dagster-postgres 0.29.N is released together with dagster 1.13.N and requires it exactly.
    dagster_version = version("dagster")
    pins = [r for r in requires("dagster-postgres") or [] if r.replace(" ", "").startswith("dagster==")]
    assert pins, "dagster-postgres does not pin dagster; an unpinned install may have picked a 2021 release"
    assert pins[0].replace(" ", "").split(";")[0] == f"dagster=={dagster_version}"
    assert version("dagster-webserver") == dagster_version
