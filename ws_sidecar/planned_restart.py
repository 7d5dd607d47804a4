"""Planned matching-engine restarts (polymarket_api.md §9.8), seen from the recorder.

While the engine restarts (about 90 s) order-related CLOB endpoints answer HTTP 425 and nothing prints; two
minutes of post-only trading follow, still without trades. `RestartWatch` probes `GET /book` for one tracked
token every `exchange_probe_interval_s`. At the first 425 it follows the restart with the HTTP client's own 425
backoff (1-2 s, doubling, capped at 30 s) until the book answers again, then reports one window, from the last
probe that succeeded to the recovery plus the post-only period. The recorder writes it as a `planned_restart`
gap and labels any socket outage inside it the same way, so health checks do not count it as an outage while
the gap itself stays recorded (and its trades audited).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from polymarket_assets.lib.clob import ClobClient
from polymarket_assets.lib.errors import ApiError, PlannedDowntimeError

log = logging.getLogger(__name__)

POST_ONLY_S = 120.0  # the documented post-only period after a restart: no taker trades yet
FOLLOW_MAX_S = 900.0  # a "restart" that answers 425 longer than this is reported as it stands


class RestartWatch(threading.Thread):
    def __init__(
        self,
        clob_url: str,
        clock,
        token: Callable[[], str | None],
        on_window: Callable[[int, int, str], None],
        interval_s: float,
        stop_event: threading.Event,
    ):
        super().__init__(name="restart-watch", daemon=True)
        self.clock = clock
        self.token = token
        self.on_window = on_window
        self.interval_s = interval_s
        self.stop_event = stop_event
        # The probe notices a 425 at once; the follower waits it out with the client's planned-downtime backoff.
        self.probe = ClobClient(clob_url, planned_downtime_wait_s=0.0, max_retries=1)
        self.follow = ClobClient(clob_url, planned_downtime_wait_s=FOLLOW_MAX_S, max_retries=1)
        self.open_since_us: int | None = None
        self.windows = 0
        self.last_ok_us: int | None = None

    def run(self) -> None:
        while not self.stop_event.wait(self.interval_s):
            token = self.token()
            if token is None:
                continue
            try:
                self.probe.get_book(token)
                self.last_ok_us = self.clock.now_us()
            except PlannedDowntimeError:
                self._follow(token)
            except ApiError as exc:
                log.debug("exchange probe failed (not a planned restart): %s", exc)

    def _follow(self, token: str) -> None:
        seen_us = self.clock.now_us()
        start_us = self.last_ok_us if self.last_ok_us is not None else seen_us
        self.open_since_us = start_us
        log.info(
            "planned matching-engine restart: HTTP 425 since at most %.1f s ago", (seen_us - start_us) / 1e6
        )
        detail = "HTTP 425 from the CLOB"
        try:
            self.follow.get_book(token)
        except ApiError as exc:
            detail = f"HTTP 425 then {type(exc).__name__}: {exc.message}"
        back_us = self.clock.now_us()
        self.last_ok_us = back_us
        end_us = back_us + int(POST_ONLY_S * 1e6)  # exchange seconds, as the recorder's clock counts them
        self.open_since_us = None
        self.windows += 1
        self.on_window(
            start_us,
            end_us,
            f"{detail}; answered again after {(back_us - seen_us) / 1e6:.1f} s, "
            f"+{POST_ONLY_S:.0f} s post-only",
        )
