"""TokenBucket and the window-limit builders."""

from __future__ import annotations

import threading
import time

import pytest

from polymarket_assets.lib.rate_limit import TokenBucket, bucket_for_window, buckets_from_limits
from polymarket_assets_tests.fake_time import FakeTime


def test_burst_is_free_then_requests_are_spaced_by_the_rate():
    t = FakeTime()
    bucket = TokenBucket(rate_per_s=2.0, burst=3, clock=t.monotonic, sleep=t.sleep)
    assert [bucket.acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.acquire() == pytest.approx(0.5)
    assert bucket.acquire() == pytest.approx(0.5)
    assert t.slept == pytest.approx([0.5, 0.5])


def test_tokens_refill_over_time_up_to_the_burst():
    t = FakeTime()
    bucket = TokenBucket(rate_per_s=1.0, burst=2, clock=t.monotonic, sleep=t.sleep)
    bucket.acquire(), bucket.acquire()
    t.advance(10)  # long idle: refills to the burst, not to 10
    assert bucket.available == pytest.approx(2.0)
    assert bucket.try_acquire() and bucket.try_acquire()
    assert not bucket.try_acquire()


def test_window_bucket_never_exceeds_the_window_limit():
    t = FakeTime()
    bucket = bucket_for_window(300, 10.0, clock=t.monotonic, sleep=t.sleep)
    start = t.monotonic()
    stamps = []
    for _ in range(900):
        bucket.acquire()
        stamps.append(t.monotonic() - start)
    # Slide a 10 s window over the grant times: never more than 300 inside it.
    j = 0
    for i, s in enumerate(stamps):
        while stamps[j] <= s - 10.0:
            j += 1
        assert i - j + 1 <= 300
    assert stamps[-1] == pytest.approx((900 - 30) / 27.0, rel=1e-6)  # burst 30, then 27/s


def test_concurrent_acquires_are_spaced_in_real_time():
    bucket = TokenBucket(rate_per_s=50.0, burst=1)
    started = time.monotonic()
    threads = [threading.Thread(target=lambda: [bucket.acquire() for _ in range(5)]) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    # 20 tokens, 1 free: at least 19/50 s, whatever the thread interleaving.
    assert time.monotonic() - started >= 19 / 50 - 0.01


def test_builders_and_validation():
    buckets = buckets_from_limits({"/markets": (300, 10.0), "/one": (1, 1.0)})
    assert buckets["/markets"].burst == 30 and buckets["/markets"].rate_per_s == pytest.approx(27.0)
    assert buckets["/one"].burst == 1 and buckets["/one"].rate_per_s == pytest.approx(1.0)
    for bad in ((0, 10.0), (5, 0.0)):
        with pytest.raises(ValueError):
            bucket_for_window(*bad)
    with pytest.raises(ValueError):
        TokenBucket(0, 1)
    with pytest.raises(ValueError):
        TokenBucket(1, 0.5)
