"""Fixtures for the lib tests: the real payload samples and a scripted HTTP stub server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polymarket_assets_tests.lib.stub_server import StubServer
from polymarket_assets_tests.samples import SAMPLES_DIR
from polymarket_assets_tests.time_contract import placeholder_times  # noqa: F401 (a fixture)


def load_sample(name: str):
    return json.loads((SAMPLES_DIR / name).read_text(encoding="utf-8"))


def sample_text(name: str) -> str:
    return (SAMPLES_DIR / name).read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    assert SAMPLES_DIR.is_dir(), f"real payload samples not found at {SAMPLES_DIR}"
    return SAMPLES_DIR


@pytest.fixture
def stub():
    server = StubServer().start()
    try:
        yield server
    finally:
        server.stop()


# Clients under test retry fast: the behaviour is the same, the suite stays quick.
FAST = {"backoff_base_s": 0.01, "backoff_cap_s": 0.05, "read_timeout": 2.0, "connect_timeout": 1.0}
