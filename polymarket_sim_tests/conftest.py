"""Fixtures: simulator processes started with run_sim on 127.0.0.1, paused at a fixed simulated start."""

from __future__ import annotations

import pytest
import requests

from polymarket_sim import run_sim

START = "2026-11-25T00:00:00Z"
START_TS = 1795564800.0


class Client:
    """A tiny requests wrapper that joins paths onto the sim's base URLs."""

    def __init__(self, handle) -> None:
        self.h = handle
        self.urls = handle.urls
        self.control = handle.control
        self.s = requests.Session()

    def get(self, surface: str, path: str, **params) -> requests.Response:
        return self.s.get(self.urls[surface] + path, params=params, timeout=30)

    def post(self, surface: str, path: str, body) -> requests.Response:
        return self.s.post(self.urls[surface] + path, json=body, timeout=30)

    def gamma(self, path: str, **params):
        r = self.get("PM_GAMMA_URL", path, **params)
        assert r.status_code == 200, r.text
        return r.json()

    def clob(self, path: str, **params):
        r = self.get("PM_CLOB_URL", path, **params)
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture(scope="package")
def sim():
    """300 markets, paused clock, no faults, rate limits off: the workhorse for shape and protocol tests."""
    with run_sim(markets=300, seed=11, speed=0, start=START, rate_limit="off") as handle:
        yield Client(handle)
        assert handle.control.stats()["internal_errors"] == 0
