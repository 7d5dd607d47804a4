"""`make demo` sets `PM_COLLECTION_START` to its simulated world's start before it loads the code location, which
reads the setting once, on import. Importing the demo module must therefore not import the code location: when
it did, the partitions began at the current hour and every run of the demo's simulated history failed with
DagsterUnknownPartitionError."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_demo_does_not_load_the_code_location():
    probe = (
        "import sys, polymarket_tools.demo; "
        "print(sorted(m for m in sys.modules if m.startswith('polymarket_assets.defs')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]", out.stdout
