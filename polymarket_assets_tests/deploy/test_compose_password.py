"""docker-compose.yml refuses to start with the .env.example password: the postgres service's entrypoint
(run here by /bin/sh exactly as the container would, after compose's `$$` unescaping) exits before the
image's entrypoint with the placeholder or any password under 16 characters, and hands over otherwise.
Every other service waits for a healthy postgres, so nothing starts with a weak password."""

from __future__ import annotations

import os
import subprocess

from polymarket_assets_tests.deploy import deploy_files as df

COMPOSE = df.load_compose()
POSTGRES = COMPOSE["services"]["postgres"]


def _run_entrypoint(password: str, tmp_path) -> subprocess.CompletedProcess:
    # A stand-in for the image's docker-entrypoint.sh that says it was reached.
    stub = tmp_path / "docker-entrypoint.sh"
    stub.write_text('#!/bin/sh\necho "image entrypoint reached: $*"\n')
    stub.chmod(0o755)
    entrypoint = [part.replace("$$", "$") for part in POSTGRES["entrypoint"]]
    env = {"PATH": f"{tmp_path}:{os.environ['PATH']}", "POSTGRES_PASSWORD": password}
    return subprocess.run(entrypoint, env=env, capture_output=True, text=True, timeout=30, check=False)


def test_postgres_refuses_the_example_password(tmp_path):
    example = df.read_env_file()["DAGSTER_PG_PASSWORD"]
    result = _run_entrypoint(example, tmp_path)
    assert result.returncode == 1
    assert "refusing to start" in result.stderr and "reached" not in result.stdout
    assert _run_entrypoint("short-but-real", tmp_path).returncode == 1


def test_postgres_starts_with_a_long_password(tmp_path):
    result = _run_entrypoint("x7Qe-3kLm_9pRt2vWz8yB4nC", tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "image entrypoint reached: postgres"


def test_every_service_waits_for_postgres_directly_or_through_user_code():
    services = COMPOSE["services"]
    for name, service in services.items():
        if name in ("postgres", "ws_sidecar"):
            continue
        assert "postgres" in (service.get("depends_on") or {}), f"{name} could start without postgres"
    # The password is the postgres service's own setting: it is the one compose interpolates for Dagster.
    assert (
        POSTGRES["environment"]["POSTGRES_PASSWORD"]
        == "${DAGSTER_PG_PASSWORD:?set DAGSTER_PG_PASSWORD in .env}"
    )
