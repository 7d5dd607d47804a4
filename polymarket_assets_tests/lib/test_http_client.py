"""ApiClient against a real socket stub: retries, Retry-After, size cap, breaker, stats, base-URL prefixes.

Waits (Retry-After, rate limits, breaker cooldowns, planned restarts) run on a fake wall time and are asserted
exactly; timeouts stay real, since they are the sockets' own.
"""

from __future__ import annotations

import itertools
import json
import threading
from datetime import timedelta
from email.utils import format_datetime

import pytest

from polymarket_assets.lib.errors import (
    ApiError,
    CircuitOpenError,
    ClientResponseError,
    PlannedDowntimeError,
    ResponseTooLargeError,
    RetryExhaustedError,
)
from polymarket_assets.lib.http_client import ApiClient
from polymarket_assets_tests.fake_time import FakeTime
from polymarket_assets_tests.lib.conftest import FAST
from polymarket_assets_tests.lib.stub_server import CLOUDFLARE_HTML, Reply, json_reply

OK = {"ok": True}


def make(stub, **kw) -> ApiClient:
    return ApiClient(stub.url, **{**FAST, **kw})


@pytest.mark.parametrize(
    "fault, reason",
    [
        (Reply(status=500, body="boom"), "status_500"),
        (Reply(status=502, body=b""), "status_502"),
        (
            Reply(
                status=503,
                body=json.dumps({"error": "unavailable"}),
                headers={"Content-Type": "application/json"},
            ),
            "status_503",
        ),
        (Reply(status=429, body="slow down"), "status_429"),
        (
            Reply(status=403, body=CLOUDFLARE_HTML, headers={"Content-Type": "text/html; charset=UTF-8"}),
            "html",
        ),
        # Cloudflare HTML with a 200 and no content type: recognised by the body itself.
        (Reply(status=200, body=CLOUDFLARE_HTML.encode(), headers={"Content-Type": ""}), "html"),
        (json_reply({"error": "Too Many Requests"}, status=200), "throttle_body"),
        (json_reply({"error": "rate limit exceeded"}, status=403), "throttle_body"),
        (
            Reply(status=200, body=b'{"markets": [1, 2', headers={"Content-Type": "application/json"}),
            "invalid_json",
        ),
        (Reply(status=200, body=b"", headers={"Content-Type": "application/json"}), "invalid_json"),
        # Content-Length promises more than arrives, then the connection drops.
        (Reply(status=200, body=json.dumps({"x": "y" * 500}).encode(), truncate_to=40), "truncated_body"),
        (Reply(status=200, body=json.dumps(OK).encode(), delay_s=0.6), "read_timeout"),
        # Headers and half the body arrive, then the server goes quiet for longer than the read timeout.
        (
            Reply(status=200, body=json.dumps({"x": "y" * 100}).encode(), truncate_to=20, stall_s=0.6),
            "read_timeout",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_each_retryable_fault_is_retried_then_succeeds(stub, fault, reason):
    stub.script("GET", "/thing", fault, json_reply(OK))
    client = make(stub, read_timeout=0.3)
    assert client.get_json("/thing") == OK
    assert len(stub.calls("GET", "/thing")) == 2
    stats = client.stats.as_dict()
    assert stats["retries"] == 1
    assert stats[f"retry_{reason}"] == 1
    assert stats["failures"] == 0
    assert stats["requests"] == 2


def test_retry_after_seconds_is_honoured(stub):
    stub.script("GET", "/t", Reply(status=429, headers={"Retry-After": "1"}), json_reply(OK))
    t = FakeTime()
    client = make(stub, wall_time=t.wall_time)
    assert client.get_json("/t") == OK
    assert t.slept == [1.0]  # the Retry-After, longer than the backoff; waited once, not again by the pause
    assert client.stats.as_dict()["status_429"] == 1


def test_retry_after_http_date_is_honoured(stub):
    t = FakeTime()
    when = t.now() + timedelta(seconds=30)
    stub.script(
        "GET",
        "/t",
        Reply(status=429, headers={"Retry-After": format_datetime(when, usegmt=True)}),
        json_reply(OK),
    )
    client = make(stub, wall_time=t.wall_time)
    assert client.get_json("/t") == OK
    assert t.slept == [30.0]


def test_retry_after_beyond_the_limit_gives_up_instead_of_sleeping(stub):
    stub.script("GET", "/t", Reply(status=429, headers={"Retry-After": "3600"}))
    t = FakeTime()
    client = make(stub, max_retry_after_s=5, wall_time=t.wall_time)
    with pytest.raises(RetryExhaustedError, match="3600"):
        client.get_json("/t")
    assert t.slept == []


@pytest.mark.parametrize("status", [400, 401, 404, 405, 410, 414, 422])
def test_non_retryable_4xx_raise_at_once_with_status_and_body(stub, status):
    stub.script("GET", "/t", json_reply({"error": "Invalid token id"}, status=status), json_reply(OK))
    client = make(stub)
    with pytest.raises(ClientResponseError) as info:
        client.get_json("/t")
    assert info.value.status == status
    assert "Invalid token id" in info.value.body
    assert info.value.url == f"{stub.url}/t"
    assert len(stub.calls()) == 1
    assert client.stats.as_dict()["retries"] == 0
    assert client.stats.as_dict()["failures"] == 1


def test_error_body_that_is_not_throttling_is_not_data(stub):
    stub.script("GET", "/book", json_reply({"error": "No orderbook exists for the requested token id"}))
    client = make(stub)
    with pytest.raises(ClientResponseError, match="No orderbook"):
        client.get_json("/book")
    assert len(stub.calls()) == 1


def test_retries_exhausted_raise_with_the_last_fault(stub):
    stub.script("GET", "/t", *[Reply(status=503, body="down")] * 3)
    client = make(stub, max_retries=2)
    with pytest.raises(RetryExhaustedError) as info:
        client.get_json("/t")
    assert info.value.status == 503
    assert "status_503" in str(info.value)
    assert len(stub.calls()) == 3
    stats = client.stats.as_dict()
    assert (stats["requests"], stats["retries"], stats["failures"], stats["status_503"]) == (3, 2, 1, 3)


def test_size_cap_trips_on_declared_length(stub):
    stub.script("GET", "/big", json_reply({"x": "y" * 5000}))
    client = make(stub, max_bytes=1000)
    with pytest.raises(ResponseTooLargeError):
        client.get_json("/big")
    assert len(stub.calls()) == 1  # a retry would get the same body


def test_size_cap_trips_while_streaming_without_length(stub):
    stub.script(
        "GET",
        "/big",
        Reply(
            body=json.dumps(["y" * 100] * 200).encode(),
            chunked=True,
            headers={"Content-Type": "application/json"},
        ),
    )
    client = make(stub, max_bytes=5000)
    with pytest.raises(ResponseTooLargeError):
        client.get_json("/big")
    assert client.stats.bytes <= 5000 + 65536


def test_body_just_under_the_cap_is_accepted(stub):
    body = json.dumps(["y" * 100] * 9).encode()
    stub.script("GET", "/ok", Reply(body=body, chunked=True, headers={"Content-Type": "application/json"}))
    client = make(stub, max_bytes=len(body))
    assert client.get_json("/ok") == ["y" * 100] * 9
    assert client.stats.bytes == len(body)


def test_breaker_opens_fails_fast_and_recovers(stub):
    t = FakeTime()
    client = make(stub, max_retries=0, breaker_failures=3, breaker_cooldown_s=15.0, wall_time=t.wall_time)
    stub.script("GET", "/t", *[Reply(status=500)] * 3)
    for _ in range(3):
        with pytest.raises(RetryExhaustedError):
            client.get_json("/t")
    with pytest.raises(CircuitOpenError):
        client.get_json("/t")
    assert len(stub.calls()) == 3  # the open breaker sent nothing
    assert client.breaker.state == "open" and client.breaker.retry_in_s() == 15.0

    t.advance(15.0)
    # Half-open: one trial goes out; a failure re-opens at once.
    stub.script("GET", "/t", Reply(status=500))
    with pytest.raises(RetryExhaustedError):
        client.get_json("/t")
    with pytest.raises(CircuitOpenError):
        client.get_json("/t")

    t.advance(15.0)
    stub.script("GET", "/t", json_reply(OK), json_reply(OK))
    assert client.get_json("/t") == OK
    assert client.breaker.state == "closed"
    assert client.get_json("/t") == OK
    assert client.stats.as_dict()["circuit_rejections"] == 2


def test_breaker_stops_a_retry_loop_midway(stub):
    stub.script("GET", "/t", *[Reply(status=500)] * 10)
    client = make(stub, max_retries=6, breaker_failures=3, breaker_cooldown_s=30)
    with pytest.raises(CircuitOpenError):
        client.get_json("/t")
    assert len(stub.calls()) == 3


def test_client_errors_count_as_a_healthy_server_for_the_breaker(stub):
    client = make(stub, max_retries=0, breaker_failures=2)
    stub.script("GET", "/t", Reply(status=500), json_reply({"error": "nope"}, status=404), Reply(status=500))
    for exc in (RetryExhaustedError, ClientResponseError, RetryExhaustedError):
        with pytest.raises(exc):
            client.get_json("/t")
    assert client.breaker.state == "closed"


def test_stats_count_a_mixed_sequence(stub):
    stub.script("GET", "/t", Reply(status=429), Reply(status=500), json_reply({"a": 1}))
    client = make(stub)
    assert client.get_json("/t") == {"a": 1}
    stats = client.stats.as_dict()
    assert stats["requests"] == 3
    assert stats["retries"] == 2
    assert stats["status_429"] == stats["status_500"] == stats["status_200"] == 1
    assert stats["failures"] == 0
    assert stats["bytes"] == len(b'{"a": 1}')
    assert stats["backoff_s"] > 0


def test_rate_limit_waits_are_counted(stub):
    stub.handle("GET", "/r", lambda req: json_reply(OK))
    t = FakeTime()
    client = make(stub, limits={"/r": (10, 1.0)}, wall_time=t.wall_time)  # burst 1, then 9/s
    for _ in range(6):
        client.get_json("/r")
    stats = client.stats.as_dict()
    # The 5 requests beyond the burst wait 1/9 s each at 9/s.
    assert t.slept == pytest.approx([1 / 9] * 5)
    assert stats["throttle_waits"] == 5
    assert stats["throttle_wait_s"] == pytest.approx(5 / 9)


def test_endpoint_key_selects_the_bucket(stub):
    stub.handle("GET", "/markets/1", lambda req: json_reply(OK))
    stub.handle("GET", "/other", lambda req: json_reply(OK))
    t = FakeTime()
    client = make(stub, limits={"/markets": (10, 1.0)}, wall_time=t.wall_time)
    for _ in range(3):
        client.get_json("/other")  # no per-endpoint limit, no default: never waits
    assert client.stats.throttle_waits == 0
    for _ in range(4):
        client.get_json("/markets/1", endpoint="/markets")
    assert client.stats.throttle_waits == 3  # burst 1
    assert t.slept == pytest.approx([1 / 9] * 3)


@pytest.mark.parametrize("base", ["/gamma", "/gamma/", "/api/v1/gamma"])
@pytest.mark.parametrize("path", ["/markets/12", "markets/12"])
def test_base_url_with_path_prefix(stub, base, path):
    prefix = base.rstrip("/")
    stub.script("GET", f"{prefix}/markets/12", json_reply({"id": "12"}))
    client = ApiClient(stub.url + base, **FAST)
    assert client.get_json(path, {"closed": False, "ids": ["a", "b"], "skip": None}) == {"id": "12"}
    call = stub.calls()[0]
    assert call.path == f"{prefix}/markets/12"
    assert call.query == {"closed": ["false"], "ids": ["a", "b"]}


def test_post_json_sends_the_body(stub):
    stub.handle("POST", "/books", lambda req: json_reply({"echo": req.body}))
    client = make(stub)
    assert client.post_json("/books", [{"token_id": "1"}]) == {"echo": [{"token_id": "1"}]}
    assert stub.calls()[0].headers.get("Content-Type") == "application/json"


def test_connection_refused_is_retried_then_exhausted():
    client = ApiClient(
        "http://127.0.0.1:9", max_retries=2, backoff_base_s=0.01, backoff_cap_s=0.02, connect_timeout=0.5
    )
    with pytest.raises(RetryExhaustedError) as info:
        client.get_json("/x")
    assert isinstance(info.value, ApiError)
    stats = client.stats.as_dict()
    assert stats["requests"] == 3
    assert stats["status_connection_error"] == 3


def test_invalid_base_urls_are_rejected():
    for bad in ("127.0.0.1:8765", "ftp://x", "http://", "http://h/p?q=1"):
        with pytest.raises(ValueError):
            ApiClient(bad)


def test_concurrent_calls_share_one_client(stub):
    stub.handle("GET", "/c", lambda req: json_reply({"n": req.param("n")}))
    client = make(stub, pool_size=4)
    results: list = []
    lock = threading.Lock()

    def work(i: int) -> None:
        value = client.get_json("/c", {"n": i})
        with lock:
            results.append(value)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(int(r["n"]) for r in results) == list(range(16))
    assert client.stats.requests == 16, str(client.stats.as_dict())


def test_total_timeout_bounds_a_trickling_body(stub):
    body = json.dumps({"x": "y" * 200000}).encode()
    stub.script("GET", "/slow", Reply(status=200, body=body, truncate_to=20, stall_s=0.7), json_reply(OK))
    client = make(stub, read_timeout=2.0, total_timeout_s=0.4)
    assert client.get_json("/slow") == OK
    assert client.stats.as_dict()["retry_read_timeout"] == 1


def test_a_planned_restart_425_is_waited_out_with_backoff_from_one_to_two_s_capped_at_30_s(stub):
    # A ~90 s matching-engine restart (polymarket_api.md §9.8): ten 425s in a row, more than the ordinary retry
    # budget (max_retries=2 here), then success. Sleeps are recorded, not slept.
    stub.script("GET", "/book", *[json_reply({"error": "restarting"}, status=425)] * 10, json_reply(OK))
    t = FakeTime()
    client = make(stub, max_retries=2, breaker_failures=3, wall_time=t.wall_time)
    assert client.get_json("/book") == OK
    assert len(stub.calls("GET", "/book")) == 11
    assert 1.0 <= t.slept[0] <= 2.0, "the first wait is 1-2 s"
    assert all(b >= a / 2 for a, b in itertools.pairwise(t.slept)), "waits grow (equal jitter)"
    assert max(t.slept) <= 30.0 and sum(t.slept) >= 90.0
    stats = client.stats.as_dict()
    # Not a failure, not a retry of the ordinary budget, not a circuit-breaker strike.
    assert stats["failures"] == 0 and stats["retries"] == 0 and stats["planned_downtime_waits"] == 10
    assert stats["status_425"] == 10
    assert client.breaker.allow_request()


def test_a_425_that_outlasts_the_planned_wait_is_a_clear_error(stub):
    stub.script("GET", "/book", *[json_reply({"error": "restarting"}, status=425)] * 50)
    t = FakeTime()
    client = make(stub, planned_downtime_wait_s=20, wall_time=t.wall_time)
    with pytest.raises(PlannedDowntimeError, match="planned restart"):
        client.get_json("/book")
    assert sum(t.slept) <= 20
    assert client.stats.as_dict()["failures"] == 1
