"""Every fault mode is observable from a client; /control is never faulted; profiles and rate limits.

The waits the faults and rate limits impose are asserted exactly on a fake clock, in process; the simulator's
sockets show the same behaviour from a client.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import requests
import websocket
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from polymarket_assets_tests.fake_time import FakeTime
from polymarket_sim import faults, ratelimit, run_sim
from polymarket_sim.faults import PROFILES, FaultConfig
from polymarket_sim.world import Stats

from .conftest import START
from .wsclient import WSClient


@pytest.fixture(scope="module")
def fsim():
    with run_sim(markets=60, seed=21, speed=0, start=START, rate_limit="off") as h:
        yield h


@pytest.fixture()
def clean(fsim):
    fsim.control.set_faults("none")
    yield fsim
    fsim.control.set_faults("none")


def _get(h, timeout=5.0):
    return requests.get(h.urls["PM_GAMMA_URL"] + "/markets", params={"limit": 2}, timeout=timeout)


def _serve(middleware, requests_: int = 1, path: str = "/gamma/markets") -> list[web.Response]:
    """Pass requests one after another through one middleware, in process, to a handler answering `[]`."""

    async def handler(request: web.Request) -> web.Response:
        return web.json_response([])

    async def run() -> list[web.Response]:
        return [await middleware(make_mocked_request("GET", path), handler) for _ in range(requests_)]

    return asyncio.run(run())


def test_delay(clean):
    before = clean.control.stats()["faults"].get("delay", 0)
    clean.control.set_faults(delay_rate=1, delay_min_s=0.01, delay_max_s=0.01)
    assert _get(clean).status_code == 200
    assert clean.control.stats()["faults"]["delay"] == before + 1


@pytest.mark.parametrize(
    "kind, settings, wait",
    [
        ("delay", {"delay_rate": 1, "delay_min_s": 0.4, "delay_max_s": 0.4}, 0.4),
        ("hang", {"hang_rate": 1, "hang_s": 20}, 20.0),
    ],
)
def test_delay_and_hang_wait_their_time_then_answer(kind, settings, wait):
    t, stats = FakeTime(), Stats()
    (response,) = _serve(faults.middleware(FaultConfig(**settings), stats, sleep=t.asleep))
    assert response.status == 200 and t.slept == [wait] and stats.faults[kind] == 1


def test_429_with_retry_after(clean):
    clean.control.set_faults(http429_rate=1, retry_after_s=3)
    r = _get(clean)
    assert r.status_code == 429 and r.headers["Retry-After"] == "3"


def test_5xx(clean):
    clean.control.set_faults(http5xx_rate=1)
    assert 500 <= _get(clean).status_code <= 504


def test_hang_past_client_timeout(clean):
    clean.control.set_faults(hang_rate=1, hang_s=2)
    with pytest.raises(requests.exceptions.ReadTimeout):
        _get(clean, timeout=0.5)


def test_cloudflare_html(clean):
    clean.control.set_faults(cloudflare403_rate=1)
    r = requests.get(clean.urls["PM_CLOB_URL"] + "/book", params={"token_id": "1"}, timeout=5)
    assert r.status_code == 403 and r.headers["Content-Type"].startswith("text/html")
    assert "Attention Required! | Cloudflare" in r.text


def test_error_body_with_http_200(clean):
    clean.control.set_faults(error200_rate=1)
    r = requests.get(clean.urls["PM_DATA_API_URL"] + "/trades", timeout=5)
    assert r.status_code == 200 and r.json() == {"error": "Too Many Requests"}


def test_malformed_json(clean):
    clean.control.set_faults(malformed_rate=1)
    r = _get(clean)
    assert r.status_code == 200
    with pytest.raises(ValueError):
        json.loads(r.text)


def test_control_is_never_faulted_and_stats_count_faults(clean):
    before = clean.control.stats()["faults"].get("http5xx", 0)
    clean.control.set_faults(http5xx_rate=1)
    for _ in range(3):
        _get(clean)
    assert clean.control.now() > 0
    assert clean.control.stats()["faults"]["http5xx"] == before + 3


def test_profiles_and_validation(clean):
    light = clean.control.set_faults("light")
    assert light["profile"] == "light"
    for k, v in PROFILES["light"].items():
        assert light[k] == v
    heavy = clean.control.set_faults("heavy")
    assert heavy["http5xx_rate"] > light["http5xx_rate"]
    r = requests.post(clean.urls["PM_SIM_CONTROL_URL"] + "/faults", json={"profile": "apocalypse"}, timeout=5)
    assert r.status_code == 400
    r = requests.post(clean.urls["PM_SIM_CONTROL_URL"] + "/faults", json={"http5xx_rate": 2}, timeout=5)
    assert r.status_code == 400


@pytest.mark.parametrize("profile,attempts", [("light", 4), ("heavy", 8)])
def test_profiles_are_survivable_with_retries(clean, profile, attempts):
    clean.control.set_faults(profile, hang_s=0.6, delay_min_s=0.01, delay_max_s=0.05)
    ok = 0
    for _ in range(40):
        for attempt in range(attempts):
            try:
                r = _get(clean, timeout=0.4)
                if r.status_code == 200 and isinstance(r.json(), list):
                    ok += 1
                    break
            except (requests.RequestException, ValueError):
                pass
    assert ok == 40


def _pair(h):
    m = requests.get(h.urls["PM_GAMMA_URL"] + "/markets", params={"limit": 1}, timeout=5).json()[0]
    return json.loads(m["clobTokenIds"])


def test_ws_malformed_frames(clean):
    clean.control.set_faults(ws_malformed_rate=1)
    c = WSClient(clean.urls["PM_WS_URL"])
    try:
        c.subscribe(_pair(clean))
        c.ws.settimeout(5)
        text = c.ws.recv()
        with pytest.raises(ValueError):
            json.loads(text)
    finally:
        c.close()


def test_ws_freeze_keeps_pong_but_stops_data(clean):
    c = WSClient(clean.urls["PM_WS_URL"])
    try:
        c.subscribe(_pair(clean))
        c.recv_frame()
        clean.control.ws_freeze(30)
        clean.control.advance(600)
        c.send("PING")
        assert c.recv_frame() == "PONG"
        assert c.drain(quiet=0.5) == 0, "no data while frozen"
        clean.control.ws_freeze(0)
        clean.control.advance(600)
        assert c.drain(quiet=0.5) > 0, "data resumes after the freeze"
    finally:
        c.close()


def test_ws_freeze_fault_rate(clean):
    clean.control.set_faults(ws_freeze_per_min=600, ws_freeze_s=30)
    c = WSClient(clean.urls["PM_WS_URL"])
    try:
        c.subscribe(_pair(clean))
        c.recv_frame()
        # The hub rolls the per-connection faults once a second; at 600 a minute the first roll freezes.
        deadline = time.monotonic() + 5.0
        while not clean.control.stats()["faults"].get("ws_freeze") and time.monotonic() < deadline:
            time.sleep(0.05)
        clean.control.advance(600)
        c.send("PING")
        assert c.recv_frame() == "PONG"
        assert c.drain(quiet=0.5) == 0
        assert clean.control.stats()["faults"]["ws_freeze"] >= 1
    finally:
        c.close()


def _closed(c: WSClient, within: float) -> bool:
    end = time.time() + within
    while time.time() < end:
        try:
            c.ws.settimeout(0.3)
            c.ws.send("PING")
            if c.ws.recv() in ("", None):
                return True
        except websocket.WebSocketTimeoutException:
            continue
        except (websocket.WebSocketConnectionClosedException, ConnectionError, OSError):
            return True
    return False


def test_ws_disconnect_fault_and_control_disconnect_all(clean):
    c = WSClient(clean.urls["PM_WS_URL"])
    c.subscribe(_pair(clean))
    c.recv_frame()
    assert clean.control.ws_disconnect_all()["disconnected"] >= 1
    assert _closed(c, 2.0)
    clean.control.set_faults(ws_disconnect_per_min=600)
    d = WSClient(clean.urls["PM_WS_URL"])
    d.subscribe(_pair(clean))
    assert _closed(d, 3.0)
    assert clean.control.stats()["faults"]["ws_disconnect"] >= 1


# The /gamma/markets limit (300 per 10 s) shrunk to 6 per second.
SMALL_LIMIT = {"rate_limit_scale": 0.02, "rate_limit_window_s": 1.0}


def test_rate_limit_delays_or_rejects_exactly_what_exceeds_the_window():
    t, stats = FakeTime(), Stats()
    config = FaultConfig(rate_limit_mode="throttle", **SMALL_LIMIT)
    middleware = ratelimit.middleware(ratelimit.RateLimiter(clock=t.monotonic), config, stats, sleep=t.asleep)
    # Six pass at once; the seventh waits until the first six leave the window, and opens the next one.
    assert [r.status for r in _serve(middleware, 9)] == [200] * 9
    assert t.slept == [1.0] and stats.faults["rate_limit_delay"] == 1
    t.advance(1.0)
    config.update({"rate_limit_mode": "429"})
    responses = _serve(middleware, 9)
    assert [r.status for r in responses] == [200] * 6 + [429] * 3
    assert [r.headers["Retry-After"] for r in responses[6:]] == ["1"] * 3
    assert t.slept == [1.0] and stats.faults["rate_limit_429"] == 3


def test_rate_limit_429s_on_request_and_throttles_by_default(clean):
    clean.control.set_faults(rate_limit_mode="429", **SMALL_LIMIT)
    try:
        s = requests.Session()
        codes = [
            s.get(clean.urls["PM_GAMMA_URL"] + "/markets", params={"limit": 1}, timeout=5) for _ in range(9)
        ]
        rejected = [r for r in codes if r.status_code == 429]
        assert rejected and all(int(r.headers["Retry-After"]) >= 1 for r in rejected)
        assert codes[0].status_code == 200
        # The window is still full: in the default mode the next request is delayed, not rejected.
        delayed = clean.control.stats()["faults"].get("rate_limit_delay", 0)
        clean.control.set_faults(rate_limit_mode="throttle")
        assert (
            s.get(clean.urls["PM_GAMMA_URL"] + "/markets", params={"limit": 1}, timeout=5).status_code == 200
        )
        assert clean.control.stats()["faults"]["rate_limit_delay"] == delayed + 1
    finally:
        clean.control.set_faults(rate_limit_mode="off", rate_limit_scale=1.0, rate_limit_window_s=10.0)


def test_malformed_bodies_are_never_valid_json():
    import random

    from polymarket_sim.faults import truncate

    rng = random.Random(3)
    body = json.dumps([{"description": "a long string " * 20, "n": i} for i in range(30)]).encode()
    for _ in range(300):
        with pytest.raises(ValueError):
            json.loads(truncate(body, rng))
