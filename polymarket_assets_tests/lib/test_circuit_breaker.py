"""CircuitBreaker state machine with a controlled clock."""

from __future__ import annotations

from polymarket_assets.lib.circuit_breaker import CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_consecutive_failures_only():
    clock = Clock()
    breaker = CircuitBreaker(3, 10.0, clock=clock)
    breaker.record_failure(), breaker.record_failure()
    breaker.record_success()  # resets the run
    breaker.record_failure(), breaker.record_failure()
    assert breaker.state == "closed" and breaker.allow_request()
    breaker.record_failure()
    assert breaker.state == "open" and not breaker.allow_request()
    assert breaker.retry_in_s() == 10.0
    assert breaker.times_opened == 1


def test_half_open_admits_one_trial_and_its_outcome_decides():
    clock = Clock()
    breaker = CircuitBreaker(1, 5.0, clock=clock)
    breaker.record_failure()
    clock.now = 5.0
    assert breaker.state == "half_open"
    assert breaker.allow_request()
    assert not breaker.allow_request()  # second caller during the trial
    breaker.record_failure()
    assert breaker.state == "open" and breaker.times_opened == 2
    clock.now = 10.0
    assert breaker.allow_request()
    breaker.record_success()
    assert breaker.state == "closed"
    assert all(breaker.allow_request() for _ in range(5))
