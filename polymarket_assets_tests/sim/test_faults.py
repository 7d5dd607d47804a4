"""Every fault mode is observable from a client; /control is never faulted; profiles and rate limits."""

from __future__ import annotations

import json
import time

import pytest
import requests
import websocket

from polymarket_sim import run_sim
from polymarket_sim.faults import PROFILES

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


def test_delay(clean):
    clean.control.set_faults(delay_rate=1, delay_min_s=0.4, delay_max_s=0.4)
    t0 = time.perf_counter()
    r = _get(clean)
    assert r.status_code == 200 and time.perf_counter() - t0 >= 0.4


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
        time.sleep(1.5)
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


def test_rate_limit_throttles_by_default_and_429s_on_request(clean):
    # Shrink the /gamma/markets limit (300 per 10 s) to 6 per 1 s so the test is quick.
    clean.control.set_faults(rate_limit_mode="throttle", rate_limit_scale=0.02, rate_limit_window_s=1.0)
    try:
        s = requests.Session()
        t0 = time.perf_counter()
        for _ in range(9):
            assert s.get(clean.urls["PM_GAMMA_URL"] + "/markets", params={"limit": 1}, timeout=5).status_code == 200
        assert time.perf_counter() - t0 >= 0.8, "requests over the limit are delayed"
        time.sleep(1.1)
        clean.control.set_faults(rate_limit_mode="429")
        codes = [s.get(clean.urls["PM_GAMMA_URL"] + "/markets", params={"limit": 1}, timeout=5) for _ in range(9)]
        rejected = [r for r in codes if r.status_code == 429]
        assert rejected and all(int(r.headers["Retry-After"]) >= 1 for r in rejected)
        assert codes[0].status_code == 200
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
