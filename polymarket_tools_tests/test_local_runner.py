"""The run pools used by the demo, the tests and the benchmarks: leaving one because of an error must not wait
for runs that can no longer finish."""

import time

import pytest

from polymarket_tools.history import CleanRunPool
from polymarket_tools.local_runner import LocalRunPool


@pytest.mark.parametrize("pool_type", [LocalRunPool, CleanRunPool])
def test_an_error_inside_the_pool_kills_its_stuck_runs_instead_of_waiting(pool_type):
    started = time.monotonic()
    with pytest.raises(TimeoutError), pool_type(workers=2) as pool:
        stuck = pool._pool.submit(time.sleep, 600)  # a run waiting on a clock nobody will advance
        while not stuck.running():
            time.sleep(0.01)
        raise TimeoutError("the caller gave up")
    assert time.monotonic() - started < 60
    assert stuck.done()


def test_a_clean_exit_waits_for_the_runs_it_submitted():
    with LocalRunPool(workers=1) as pool:
        slow = pool._pool.submit(time.sleep, 0.5)
    assert slow.done() and slow.exception() is None
