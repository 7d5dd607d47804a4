"""``python -m ws_sidecar``: run the recorder until SIGTERM/SIGINT (exit 0 after a clean flush)."""

from __future__ import annotations

import gc
import logging
import signal
import sys

from ws_sidecar.config import load_config
from ws_sidecar.recorder import AlreadyRunning, Recorder


def main() -> int:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s ws_sidecar %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    # Every message allocates a few short-lived tuples; collecting the youngest generation every 700
    # allocations costs ~10% of the hot path for nothing (nothing here forms reference cycles at that rate).
    gc.set_threshold(100_000, 50, 50)
    try:
        cfg = load_config()
    except ValueError as exc:
        print(f"ws_sidecar: bad configuration: {exc}", file=sys.stderr)
        return 2
    recorder = Recorder(cfg)
    signal.signal(signal.SIGTERM, lambda *_: recorder.request_stop())
    signal.signal(signal.SIGINT, lambda *_: recorder.request_stop())
    try:
        return recorder.run()
    except AlreadyRunning as exc:
        print(f"ws_sidecar: {exc}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
