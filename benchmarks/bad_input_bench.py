"""Bad input: good rows lost across the fault suites (`bad_input_rows_lost`, target 0).

run() replays every scenario of `polymarket_assets_tests.fault_scenarios` (poisoned websocket rows through the
real processor and writer into Parquet files; one bad book per `POST /books` answer; NaN, Infinity, negatives,
values above 1, text and non-objects in `/prices` and `/midpoints`; poisoned trade times in a Data API walk;
negative Gamma volumes and impossible observation times) against the stub server on 127.0.0.1, each in a fresh
temporary directory, and counts what happened to the good and the bad records. A scenario that raises leaves
`bad_input_rows_lost` null and names the error in `bad_input_errors`.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from polymarket_assets_tests import fault_scenarios

TARGET_ROWS_LOST = 0


def run() -> dict:
    started = time.perf_counter()
    expected = lost = injected = quarantined = stored = failures = 0
    errors: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bad-input-bench-") as root:
        for scenario in fault_scenarios.SCENARIOS:
            try:
                outcome = scenario(Path(root) / scenario.__name__)
            except Exception as exc:  # noqa: BLE001 - a crash is the figure, not the end of the benchmark
                errors.append(f"{scenario.__name__}: {type(exc).__name__}: {exc}"[:300])
                failures += 1
                continue
            expected += outcome.good_expected
            lost += outcome.rows_lost
            injected += outcome.bad_injected
            quarantined += outcome.bad_quarantined
            stored += outcome.bad_stored
            failures += outcome.failures
    return {
        "bad_input_rows_lost": lost if not errors else None,
        "bad_input_rows_lost_target": TARGET_ROWS_LOST,
        "bad_input_good_rows": expected,
        "bad_input_bad_records": injected,
        "bad_input_quarantined_ratio": round(quarantined / injected, 4) if injected else None,
        "bad_input_bad_values_stored": stored,
        "bad_input_failures": failures,
        "bad_input_scenarios": len(fault_scenarios.SCENARIOS),
        "bad_input_errors": "; ".join(errors) or None,
        "bad_input_s": round(time.perf_counter() - started, 2),
        "bad_input_load_avg_1m": round(os.getloadavg()[0], 2),
    }
