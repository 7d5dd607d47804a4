"""Fills lost trades from the Data API: promptly after each gap, and in a rolling audit of every market.

Two kinds of job run on this one thread, both through ``reconcile`` (see ``ws_sidecar.reconcile`` for the
matching rules):

- **gap backfill**: when a gap closes, its markets over [start - tolerance, end + tolerance], as soon as the
  end is ``settle_s`` (wall seconds) in the past;
- **audit**: every ``audit_interval_s``, all tracked markets over [audited_through - overlap, horizon]. The
  audit is the safety net for losses nobody noticed (a silent freeze shorter than the watchdog, a dropped
  frame) and for crashes: ``audited_through`` is persisted, so a restarted recorder resumes auditing from the
  last point everything was checked, whatever the previous process had in memory.

The horizon is ``settle_s`` wall seconds before now (scaled by the clock's speed), pulled back to a live connection's newest exchange timestamp when its
stream lags, so a trade still in flight on the WS is never fetched from the Data API as "missing".
"""

from __future__ import annotations

import logging
import math
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from polymarket_assets.lib.errors import ApiError, ParseError
from polymarket_assets.lib.parse_trades import parse_data_api_trade
from ws_sidecar.reconcile import TradeIndex, missing_trades

log = logging.getLogger(__name__)


MAX_ATTEMPTS = 3  # a window whose Data API answer kept a bad row is retried this often, then accepted


class IncompleteFetch(Exception):
    """Some Data API rows inside the window could not be parsed (quarantined): the window must be fetched again."""

    def __init__(self, rows: int):
        super().__init__(f"{rows} unreadable Data API rows in the window")
        self.rows = rows


@dataclass
class Job:
    condition_ids: list[str]
    start_s: float
    end_s: float
    reason: str
    attempts: int = 0


def trim_repeats(previous: list, page: list) -> list:
    """``page`` without the rows that only repeat the end of ``previous``.

    ``/trades`` pages newest first by offset: when n trades arrive between two requests, the next page starts
    with the previous page's last n rows again. The longest such overlap is dropped; identical trades inside
    one page (one transaction filling two orders alike) are kept.
    """
    for n in range(min(len(previous), len(page)), 0, -1):
        if page[:n] == previous[-n:]:
            return page[n:]
    return page


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class Backfiller(threading.Thread):
    def __init__(
        self,
        cfg,
        clock,
        index: TradeIndex,
        writer,
        data_api,
        run_id: str,
        *,
        audited_through: float,
        audit_floor: float = -math.inf,
        tracked: Callable[[float], list[str]],
        horizon_limit: Callable[[], float | None],
        on_audited: Callable[[float], None],
        quarantine=None,
    ):
        super().__init__(name="backfill", daemon=True)
        self.cfg = cfg
        self.clock = clock
        self.index = index
        self.writer = writer
        self.data_api = data_api
        self.run_id = run_id
        self.tracked = tracked
        self.horizon_limit = horizon_limit
        self.on_audited = on_audited
        self.quarantine = quarantine
        self.audited_through = audited_through
        # A first start does not import history from before the recorder existed; a restart must reach back.
        self.audit_floor = audit_floor
        self._jobs: list[Job] = []
        self._lock = threading.Lock()
        self._halt = threading.Event()
        self._last_audit_at = -math.inf
        self._audit_attempts = 0
        self.stats: Counter[str] = Counter()
        self.last_error: str | None = None

    def schedule(self, condition_ids: Iterable[str], start_s: float, end_s: float, reason: str) -> None:
        cids = sorted(set(condition_ids))
        if cids:
            with self._lock:
                self._jobs.append(Job(cids, start_s, end_s, reason))

    def pending(self) -> list[Job]:
        with self._lock:
            return list(self._jobs)

    def stop(self) -> None:
        self._halt.set()

    def horizon(self, now: float) -> float:
        # Delivery and processing lags are wall time: under an accelerated clock they span more clock seconds.
        limit = now - self.cfg.settle_s * getattr(self.clock, "speed", 1.0)
        lagging = self.horizon_limit()
        if lagging is not None:
            limit = min(limit, lagging - self.cfg.match_tolerance_s)
        return limit

    def run(self) -> None:
        while not self._halt.wait(0.5):
            try:
                self.step()
            except Exception as exc:
                self.stats["errors"] += 1
                self.last_error = f"{type(exc).__name__}: {exc}"[:300]
                log.exception("backfill step failed")

    def step(self) -> None:
        now = self.clock.now()
        horizon = self.horizon(now)
        tol = self.cfg.match_tolerance_s
        with self._lock:
            due = [j for j in self._jobs if j.end_s + tol <= horizon]
            self._jobs = [j for j in self._jobs if j.end_s + tol > horizon]
        if due:
            # Gaps that closed since the last step are filled together: one pass over the union of their
            # markets and windows (a wider window only costs a few more rows to match).
            cids = sorted({c for j in due for c in j.condition_ids})
            start, end = min(j.start_s for j in due), max(j.end_s for j in due)
            try:
                self.stats["trades_backfilled"] += self.reconcile(cids, start - tol, end + tol)
                self.stats["gap_backfills"] += len(due)
            except (ApiError, IncompleteFetch) as exc:
                self.stats["errors"] += 1
                self.last_error = str(exc)[:300]
                retry = [j for j in due if j.attempts + 1 < MAX_ATTEMPTS]
                for j in retry:
                    j.attempts += 1
                with self._lock:  # retried at the next step; the audit covers them too
                    self._jobs.extend(retry)
                return
        # On the recorder's clock, so an accelerated simulator audits as often in simulated time as production.
        audit_due = not (0 <= now - self._last_audit_at < self.cfg.audit_interval_s)
        if audit_due and horizon > self.audited_through:
            start = max(self.audited_through - self.cfg.audit_overlap_s, self.audit_floor)
            cids = self.tracked(start)
            try:
                found = self.reconcile(cids, start, horizon)
            except ApiError as exc:
                self.stats["errors"] += 1
                self.last_error = str(exc)[:300]
                return
            except IncompleteFetch as exc:
                self.stats["errors"] += 1
                self.last_error = str(exc)[:300]
                self._audit_attempts += 1
                if self._audit_attempts < MAX_ATTEMPTS:
                    return  # the whole window again at the next step
                self.stats["unreadable_rows"] += exc.rows
                found = 0
            self._audit_attempts = 0
            self._last_audit_at = now
            self.stats["audits"] += 1
            self.stats["trades_audited_in"] += found
            self.audited_through = horizon
            self.last_error = None
            self.on_audited(horizon)
        keep_from = self.audited_through - self.cfg.audit_overlap_s
        for job in self.pending():
            keep_from = min(keep_from, job.start_s)
        self.index.prune(int((keep_from - 2 * tol - 60) * 1000))

    def reconcile(self, condition_ids: list[str], start_s: float, end_s: float) -> int:
        """Fetch, match and write the missing trades of ``condition_ids`` in [start_s, end_s]. Returns how many."""
        if not condition_ids or end_s <= start_s:
            return 0
        tol = self.cfg.match_tolerance_s
        start_ms, end_ms = int(start_s * 1000), int(end_s * 1000)
        since = math.floor(start_s - tol - 1)
        upto = end_s + tol + 1
        rows: list[tuple] = []
        unreadable = 0
        pending = [list(c) for c in _chunks(sorted(condition_ids), self.cfg.backfill_chunk)]
        while pending:
            chunk = pending.pop()
            pages = self.data_api.iter_trades(chunk, since_ts=since, page_size=500)
            fetched: dict[str, list] = {cid: [] for cid in chunk}
            previous: list = []
            for page in pages:
                self.stats["api_rows"] += len(page)
                fresh = trim_repeats(previous, page)
                self.stats["api_rows_repeated"] += len(page) - len(fresh)
                previous = page
                for raw in fresh:
                    try:
                        trade = parse_data_api_trade(raw)
                    except ParseError as exc:
                        if self.quarantine is not None:
                            self.quarantine.add(exc.reason, raw, {"source": "data_api /trades"})
                        ts = raw.get("timestamp") if isinstance(raw, dict) else None
                        if not isinstance(ts, (int, float)) or since <= ts <= upto:
                            unreadable += 1
                        continue
                    if trade.condition_id in fetched and since <= trade.timestamp <= upto:
                        fetched[trade.condition_id].append(trade)
            if pages.truncated:
                if len(chunk) > 1:
                    half = len(chunk) // 2
                    pending += [chunk[:half], chunk[half:]]
                    continue
                self.stats["truncated"] += 1
                log.warning(
                    "Data API paging cap reached for %s: trades before the cap are unrecoverable", chunk[0]
                )
            recorded = self.index.window(
                chunk, start_ms - int(tol * 1000) - 2000, end_ms + int(tol * 1000) + 2000
            )
            received = self.clock.now_us()
            for cid in chunk:
                for trade, uid in missing_trades(
                    recorded.get(cid, []), fetched[cid], start_ms, end_ms, int(tol * 1000)
                ):
                    rows.append(
                        (
                            uid,
                            "data_api",
                            trade.asset_id,
                            trade.condition_id,
                            trade.side,
                            trade.price,
                            trade.size,
                            None,
                            trade.timestamp * 1000,
                            received,
                            trade.outcome,
                            trade.outcome_index,
                            trade.transaction_hash,
                            None,
                            self.run_id,
                        )
                    )
        if rows:
            # Durable before the index believes it: a crash here re-fetches, and the uid dedupes it.
            self.writer.add_rows("trades", rows)
            self.writer.flush(kinds=("trades",))
            for r in rows:
                self.index.add(r[3], r[8], r[2], r[4], r[6], r[5], r[0], "data_api")
        if unreadable:
            raise IncompleteFetch(unreadable)
        return len(rows)
