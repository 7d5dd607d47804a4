"""The recorder process: universe refresh, connections, writer, backfill, status and restart handling.

Threads: one per connection (``Connection``), the ``Writer``, the ``Backfiller``, the simulator clock's
refresher (under ``PM_CLOCK=sim``), and the main thread, which refreshes the universe, supervises the
connections and writes the status file. Nothing here uses asyncio.

Start-up: take the data directory's lock (one recorder per data directory), read the previous run's
``state.json``, delete its half-written temporary files, open a ``restart`` gap from its ``durable_through``
(closed when every connection of this run has received data), reload recently recorded trades for
reconciliation, and resume the audit from ``audited_through``. Start-up reads only the recent day directories
(temporaries since the previous run's last file key, trades since the audit point, from ``incoming/`` and the
lake's ``trades`` partitions), so it does not grow with the history kept on disk.

A full disk never stops it: the status and state writes are guarded (their failures are counted and shown in
the next status that can be written), the writer keeps unwritten rows queued, and what it must drop to bound
memory becomes a ``write_failed`` gap with a backfill of the window.
"""

from __future__ import annotations

import fcntl
import logging
import os
import secrets
import threading
import time
from collections import deque
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq

from polymarket_assets.lib import incoming
from polymarket_assets.lib.clob import ClobClient
from polymarket_assets.lib.data_api import DataApiClient
from polymarket_assets.lib.incoming import PLANNED_RESTART, RESYNC
from polymarket_assets.lib.parquet_store import partition_relpath
from polymarket_assets.lib.quarantine import Quarantine
from polymarket_assets.lib.recorder_state import read_json
from ws_sidecar import files
from ws_sidecar.backfill import Backfiller
from ws_sidecar.clock import make_clock
from ws_sidecar.config import SidecarConfig
from ws_sidecar.connection import Connection, State
from ws_sidecar.market_events import market_event_row
from ws_sidecar.planned_restart import RestartWatch
from ws_sidecar.processor import FrameProcessor
from ws_sidecar.reconcile import TradeIndex
from ws_sidecar.state import remove_stale_temporaries, write_json_atomic
from ws_sidecar.universe import WS_NEW, Market, MarketsUnreadable, ShardPlan, load_markets, select
from ws_sidecar.writer import Writer

log = logging.getLogger(__name__)

RESTART_GAP_TIMEOUT_S = (
    60.0  # wall seconds; a connection silent this long after start-up no longer holds it open
)
CONNECTION_425_CAP_S = (
    5.0  # seconds; the longest wait between a connection's retries of a planned restart's 425
)


class AlreadyRunning(RuntimeError):
    pass


def _iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, tz=UTC).isoformat() if ts is not None else None


class Recorder:
    def __init__(self, cfg: SidecarConfig):
        self.cfg = cfg
        self.run_id = secrets.token_hex(4)
        self.stop_event = threading.Event()
        self.clock = None
        self.index = TradeIndex()
        self.quarantine = Quarantine(cfg.data_dir, "ws_market")
        self.plan = ShardPlan(cfg.assets_per_connection)
        self.connections: dict[int, Connection] = {}
        self.processors: dict[int, FrameProcessor] = {}
        self._lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._resolved: set[str] = set()
        self._seen_events: set[str] = set()
        self._ws_new: dict[str, Market] = {}
        self._dropped_at: dict[str, float] = {}
        self._prev_tracked: list[str] = []
        self._gap_seq = 0
        self._gaps: deque = deque(maxlen=10_000)  # (end_s, start_s, reason, connection_id)
        self._planned: deque = deque(maxlen=100)  # (start_us, end_us) of planned restarts seen
        self._refresh_now = threading.Event()
        self.markets_source = "none"
        self.universe_kept = 0  # refreshes that kept the previous universe (see `refresh`)
        self.universe_last_problem: str | None = None
        self.started_wall = time.time()
        self.state: dict = {}
        self.restart_gap: dict | None = None
        self._lock_fd: int | None = None
        self._last_status = (time.monotonic(), 0)
        self.msgs_per_s = 0.0
        self.status_write_errors = 0
        self.state_write_errors = 0
        self.last_write_error: str | None = None

    # -- start-up -----------------------------------------------------------------------------------------

    def _take_lock(self) -> None:
        self.cfg.sidecar_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.cfg.sidecar_dir / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise AlreadyRunning(f"another ws_sidecar holds {self.cfg.sidecar_dir / 'lock'}") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._lock_fd = fd

    def _start(self) -> None:
        cfg = self.cfg
        self._take_lock()
        self.clock = make_clock(cfg.clock, cfg.sim_control_url)
        now = self.clock.now()
        remove_stale_temporaries(cfg.sidecar_dir)
        prev = read_json(cfg.state_path) or {}
        # The previous writer's last key bounds where its half-written files can be (a day of slack).
        last_ms = int(prev.get("last_file_ms") or 0)
        min_day = incoming.day_of_ms(last_ms - 86_400_000) if last_ms > 86_400_000 else None
        removed = files.remove_temporaries(cfg.data_dir, min_day=min_day)
        if removed:
            log.warning("removed %d partial files left by a previous run", removed)
        audited = prev.get("audited_through")
        if audited is not None and prev.get("durable_through") is not None:
            # The previous audit counted trades it held in memory; those not yet in a closed file died with
            # it, so the audit resumes from the last point both were true.
            audited = min(audited, prev["durable_through"])
        self._prev_tracked = list(prev.get("tracked") or [])
        if prev:
            outage_start = (
                prev.get("stopped_at") if prev.get("clean_shutdown") else prev.get("durable_through")
            )
            outage_start = outage_start or prev.get("started_at") or now
            if prev.get("silent_since") is not None:
                # A socket was already down or silent when the last files were closed: the outage began then.
                outage_start = min(outage_start, prev["silent_since"])
            self.restart_gap = {
                "start_us": int(min(outage_start, now) * 1e6),
                "detail": "clean restart"
                if prev.get("clean_shutdown")
                else f"previous run {prev.get('run_id')} died",
                "opened_mono": time.monotonic(),
            }
        self.state = {
            "run_id": self.run_id,
            "pid": os.getpid(),
            "started_at": now,
            "durable_through": now,
            "audited_through": audited if audited is not None else now,
            "last_file_ms": int(prev.get("last_file_ms") or 0),
            "tracked": self._prev_tracked,
            "clean_shutdown": False,
            "stopped_at": None,
            "previous_run_id": prev.get("run_id"),
            # The first start of this data directory: audits never import trades from before it.
            "recording_since": prev.get("recording_since") or now,
        }
        self._save_state()
        self._load_index(self.state["audited_through"] - cfg.audit_overlap_s - cfg.match_tolerance_s - 60)

        self.writer = Writer(
            cfg.data_dir,
            self.run_id,
            self.clock,
            interval_s=cfg.flush_interval_s,
            max_rows=cfg.flush_max_rows,
            first_key_ms=self.state["last_file_ms"] + 1,
            on_flushed=self._on_flushed,
            quarantine=self.quarantine,
            debug_delay_s=cfg.debug_write_delay_s,
            max_buffered_rows=cfg.max_buffered_rows,
            on_dropped=self._on_rows_dropped,
        )
        self.writer.start()
        self.data_api = DataApiClient(cfg.data_api_url)
        self.backfiller = Backfiller(
            cfg,
            self.clock,
            self.index,
            self.writer,
            self.data_api,
            self.run_id,
            audited_through=self.state["audited_through"],
            audit_floor=self.state["recording_since"],
            tracked=self._tracked_since,
            horizon_limit=self._lagging_watermark,
            on_audited=self._on_audited,
            quarantine=self.quarantine,
        )
        self.backfiller.start()
        self.restart_watch = RestartWatch(
            cfg.clob_url,
            self.clock,
            self._probe_token,
            self._on_planned_restart,
            cfg.exchange_probe_interval_s,
            self.stop_event,
        )
        self.restart_watch.start()

    def _probe_token(self) -> str | None:
        with self._lock:
            for market in self.plan.markets.values():
                return market.yes_token_id
        return None

    def _on_planned_restart(self, start_us: int, end_us: int, detail: str) -> None:
        with self._lock:
            self._planned.append((start_us, end_us))
        self.record_gap(
            connection_id="exchange",
            start_us=start_us,
            end_us=end_us,
            reason=PLANNED_RESTART,
            detail=detail,
            n_assets=sum(len(c.subscribed) for c in list(self.connections.values())),
            condition_ids=sorted(self.plan.assignment),
        )

    def _in_planned_restart(self, start_us: int, end_us: int) -> bool:
        """Whether [start, end] overlaps a planned restart the watch has reported or is following now."""
        windows = list(self._planned)
        open_since = self.restart_watch.open_since_us
        if open_since is not None:
            windows.append((open_since, self.clock.now_us()))
        return any(start_us <= w_end and w_start <= end_us for w_start, w_end in windows)

    def _planned_restart_open(self) -> bool:
        """The watch is following a restart, or its post-only period (sockets catching up) has not ended."""
        if self.restart_watch.open_since_us is not None:
            return True
        now_us = self.clock.now_us()
        return any(start <= now_us <= end for start, end in list(self._planned))

    def _load_index(self, since_s: float) -> None:
        """Trades this data directory already holds from ``since_s`` on, so a restart never re-adds them.

        Incoming files first, then the lake's ``trades`` partitions (ingestion removes files from incoming/
        once they are in the lake, and reading in this order never misses a file moved in between). Only day
        directories that can hold such trades are listed.
        """
        since_hour = incoming.hour_of_epoch_s(since_s)
        # A file of an hour >= since_hour is named (keyed) after its trades happened; one day of clock slack.
        min_day = incoming.day_of_ms(max(0, int(since_s * 1000) - 86_400_000))
        columns = ["trade_uid", "source", "asset_id", "condition_id", "side", "price", "size", "exchange_ts"]
        paths = [
            f.path
            for f in incoming.list_incoming(self.cfg.data_dir, ("trades",), min_day=min_day)
            if f.hour >= since_hour
        ]
        seen: set[str] = set()
        loaded = 0
        for path in paths + self._lake_trade_files(since_hour):
            try:
                table = pq.read_table(path, columns=columns)
            except (OSError, ValueError) as exc:
                log.warning("cannot read %s for the trade index: %s", path, exc)
                continue
            for r in table.to_pylist():
                if r["trade_uid"] in seen:
                    continue
                seen.add(r["trade_uid"])
                ts = r["exchange_ts"]
                ts_ms = int(ts.timestamp() * 1000) if hasattr(ts, "timestamp") else int(ts)
                self.index.add(
                    r["condition_id"],
                    ts_ms,
                    r["asset_id"],
                    r["side"],
                    r["size"],
                    r["price"],
                    r["trade_uid"],
                    r["source"],
                )
                loaded += 1
        log.info("trade index: %d recorded trades since %s", loaded, _iso(since_s))

    def _lake_trade_files(self, since_hour: str) -> list:
        """The lake's ``trades`` files of hours >= ``since_hour`` (``date=YYYY-MM-DD/hour=HH`` partitions)."""
        root = Path(partition_relpath(str(self.cfg.data_dir / "lake"), "trades", {}))
        since_date = f"{since_hour[:4]}-{since_hour[4:6]}-{since_hour[6:8]}"
        found = []
        try:
            dates = sorted(d for d in os.listdir(root) if d.startswith("date=") and d[5:] >= since_date)
        except OSError:
            return []
        for date in dates:
            for hour in sorted(os.listdir(root / date)) if (root / date).is_dir() else []:
                if not hour.startswith("hour=") or (date[5:] == since_date and hour[5:] < since_hour[9:11]):
                    continue
                found += sorted(
                    p for p in (root / date / hour).glob("*.parquet") if not p.name.startswith(".")
                )
        return found

    # -- callbacks from other threads ---------------------------------------------------------------------

    def _save_state(self) -> None:
        with self._state_lock:
            try:
                write_json_atomic(self.cfg.state_path, self.state)
            except OSError as exc:
                # A full disk: the previous state stays (older durable_through, so a restart's gap only grows).
                self.state_write_errors += 1
                self.last_write_error = f"state.json: {exc}"
                log.warning("cannot write %s: %s", self.cfg.state_path, exc)

    def _on_rows_dropped(self, start_us: int, end_us: int, dropped: dict[str, int]) -> None:
        """The writer dropped buffered rows it could not write: a gap over their span, with a backfill."""
        self.record_gap(
            connection_id="recorder",
            start_us=start_us,
            end_us=max(end_us, start_us),
            reason="write_failed",
            detail=f"disk writes failing ({self.writer.last_error}); dropped {dropped}",
            n_assets=sum(len(c.subscribed) for c in list(self.connections.values())),
            condition_ids=sorted(self.plan.assignment),
        )

    def _on_flushed(self, cut_us: int, last_ms: int) -> None:
        silent = self._silent_since(cut_us) if cut_us else None
        with self._state_lock:
            if cut_us:
                self.state["durable_through"] = cut_us / 1e6
                self.state["silent_since"] = silent / 1e6 if silent is not None else None
            self.state["last_file_ms"] = last_ms
        self._save_state()

    def _silent_since(self, now_us: int) -> int | None:
        """The earliest start among sockets that are in an outage or have been silent for over a second."""
        starts = []
        for conn in list(self.connections.values()):
            if conn.outage is not None:
                starts.append(conn.outage["start_us"])
            elif conn.ever_live and now_us - conn.processor.last_data_us > 1_000_000:
                starts.append(conn.processor.last_data_us)
        return min(starts) if starts else None

    def _on_audited(self, through: float) -> None:
        with self._state_lock:
            self.state["audited_through"] = through
        self._save_state()

    def _on_market_event(self, event, connection_id: str) -> None:
        """A custom event (seen on every socket that enabled them): act and record it once per run.

        `new_market` subscribes the market at once (see `refresh`) and is its first sighting; `market_resolved`
        unsubscribes it and is the provisional resolution. Either row is written within a quarter second.
        """
        key = f"{event.event_type}:{event.market}:{event.timestamp_ms}"
        with self._lock:
            if key in self._seen_events:
                return
            self._seen_events.add(key)
            if event.event_type == "market_resolved":
                self._resolved.add(event.market)
            elif len(event.asset_ids) == 2:
                self._ws_new[event.market] = Market(
                    event.market, event.asset_ids[0], event.asset_ids[1], None, WS_NEW
                )
        self._refresh_now.set()
        self.writer.add_rows(
            "market_events",
            [market_event_row(event, key, self.clock.now_us(), connection_id, self.run_id)],
            urgent=True,
        )

    def record_gap(
        self,
        *,
        connection_id: str,
        start_us: int,
        end_us: int,
        reason: str,
        detail: str,
        n_assets: int,
        condition_ids: list[str],
    ) -> None:
        if reason in ("disconnect", "freeze") and self._in_planned_restart(start_us, end_us):
            # The exchange was restarting: still a gap (recorded and audited), but not an outage of ours.
            reason, detail = PLANNED_RESTART, f"{reason} during a planned restart: {detail}"
        with self._lock:
            self._gap_seq += 1
            gap_id = f"{self.run_id}-{self._gap_seq}"
        row = (
            gap_id,
            self.run_id,
            connection_id,
            start_us // 1000,
            end_us // 1000,
            reason,
            detail,
            n_assets,
            condition_ids[0] if reason == RESYNC and len(condition_ids) == 1 else None,
            self.clock.now_us(),
        )
        # Durable before anything else happens: a gap row that dies in memory would hide its outage for good.
        self.writer.add_rows("ws_gaps", [row])
        try:
            self.writer.flush(kinds=("ws_gaps",))
        except OSError:
            log.exception("gap %s not written yet; it stays queued for the next flush", gap_id)
        self._gaps.append((end_us / 1e6, start_us / 1e6, reason, connection_id))
        self.backfiller.schedule(condition_ids, start_us / 1e6, end_us / 1e6, reason)
        log.info(
            "gap %s on %s: %s (%s), %.3f s, %d assets",
            gap_id,
            connection_id,
            reason,
            detail,
            (end_us - start_us) / 1e6,
            n_assets,
        )

    def _tracked_since(self, start_s: float) -> list[str]:
        with self._lock:
            cids = set(self.plan.assignment)
            cids |= {c for c, at in self._dropped_at.items() if at >= start_s}
            if self.state.get("started_at", 0) >= start_s or self.restart_gap is not None:
                cids |= set(self._prev_tracked)
        return sorted(cids)

    def _lagging_watermark(self) -> float | None:
        """The oldest stream position among live connections that are behind the clock, if any."""
        now_ms = self.clock.now_us() // 1000
        lag = None
        for conn in list(self.connections.values()):
            wm = conn.processor.watermark_ms
            if conn.state is State.LIVE and wm and now_ms - wm < 300_000:
                lag = wm if lag is None else min(lag, wm)
        return lag / 1000 if lag is not None else None

    # -- the main loop ------------------------------------------------------------------------------------

    def refresh(self) -> None:
        cfg = self.cfg
        now = self.clock.now()
        try:
            markets = load_markets(cfg.data_dir, datetime.fromtimestamp(now, tz=UTC))
        except MarketsUnreadable as exc:
            self._keep_universe(f"markets_current unreadable: {exc}")
            return
        if not markets and self.markets_source == "lake":
            # Discovery never publishes an empty universe; a missing or empty table after a good one is a fault
            # (a half-done restore, a bad replace), and obeying it would close every socket.
            self._keep_universe("markets_current is missing or lists no open market")
            return
        self.markets_source = "lake" if markets is not None else "none"
        markets = markets or []
        known = {m.condition_id for m in markets}
        with self._lock:
            extra = [m for cid, m in self._ws_new.items() if cid not in known]
            resolved = set(self._resolved)
            before = set(self.plan.assignment)
        selected = select(
            markets + extra,
            # A market announced by `new_market` is subscribed whatever the budget, until discovery lists it.
            always_tiers=(*cfg.always_tiers, WS_NEW),
            capacity_markets=cfg.max_connections * (cfg.assets_per_connection // 2),
            fill_budget=cfg.fill_budget,
            exclude=resolved,
        )
        with self._lock:
            shards = self.plan.update(selected)
            dropped = before - set(self.plan.assignment)
            for cid in dropped:
                self._dropped_at[cid] = now
            for cid in [
                c
                for c, at in self._dropped_at.items()
                if at < now - 2 * cfg.audit_overlap_s - cfg.audit_interval_s
            ]:
                del self._dropped_at[cid]
            tracked = sorted(self.plan.assignment)
            changed = tracked != self.state.get("tracked")
            with self._state_lock:
                self.state["tracked"] = tracked
        if changed:
            self._save_state()
        # Markets still open in the lake but no longer subscribed (the budget went to others) stop being
        # recorded from now on: say so with a gap row rather than let their coverage end silently.
        still_open = sorted(dropped & known - resolved)
        if still_open:
            now_us = int(now * 1e6)
            self.record_gap(
                connection_id="universe",
                start_us=now_us,
                end_us=now_us,
                reason="unsubscribed",
                detail=f"{len(still_open)} open markets left the subscribed set",
                n_assets=2 * len(still_open),
                condition_ids=[],
            )
        for shard, mkts in shards.items():
            conn = self.connections.get(shard)
            if conn is None or (not conn.is_alive() and not self.stop_event.is_set()):
                conn = self._new_connection(shard)
            conn.set_assets({tok: cid for cid, m in mkts.items() for tok in m.tokens})
        for shard in [s for s in self.connections if s not in shards]:
            conn = self.connections.pop(shard)
            conn.set_assets({})
            conn.stop()
            conn.join(timeout=5)
            self.writer.remove_source(conn.processor)
            self.processors.pop(shard, None)

    def _keep_universe(self, problem: str) -> None:
        self.universe_kept += 1
        self.universe_last_problem = problem[:500]
        log.warning("%s: keeping the %d markets subscribed", problem, len(self.plan.assignment))

    def _new_connection(self, shard: int) -> Connection:
        cid = f"c{shard:02d}"
        processor = self.processors.get(shard)
        if processor is None:
            processor = FrameProcessor(
                self.run_id,
                cid,
                on_trade=self._on_ws_trade,
                on_market_event=lambda event, cid=cid: self._on_market_event(event, cid),
                quarantine=self.quarantine,
            )
            self.processors[shard] = processor
            self.writer.add_source(processor)
        conn = Connection(
            cid,
            self.cfg,
            self.clock,
            processor,
            # A planned restart's 425s are waited out in short steps: a socket thread blocked in a reseed reads
            # nothing, so it should be back soon after the engine is.
            ClobClient(self.cfg.clob_url, planned_backoff_cap_s=CONNECTION_425_CAP_S),
            on_gap=self.record_gap,
            quarantine=self.quarantine,
        )
        self.connections[shard] = conn
        conn.start()
        return conn

    def _on_ws_trade(
        self, cid: str, ts_ms: int, asset: str, side: str, size: float, price: float, uid: str
    ) -> None:
        self.index.add(cid, ts_ms, asset, side, size, price, uid, "ws")

    def _maybe_close_restart_gap(self) -> None:
        gap = self.restart_gap
        if gap is None:
            return
        conns = list(self.connections.values())
        timed_out = time.monotonic() - gap["opened_mono"] > RESTART_GAP_TIMEOUT_S
        if self.markets_source == "none" or all(c.ever_live for c in conns) or timed_out:
            self.restart_gap = None
            end = self.clock.now_us()
            self.record_gap(
                connection_id="recorder",
                start_us=min(gap["start_us"], end),
                end_us=end,
                reason="restart",
                detail=gap["detail"] + (" (a connection stayed silent)" if timed_out else ""),
                n_assets=sum(len(c.subscribed) for c in conns),
                condition_ids=sorted(set(self.plan.assignment) | set(self._prev_tracked)),
            )

    def run(self) -> int:
        self._start()
        last_refresh = -1e18
        last_status = -1e18
        try:
            while not self.stop_event.is_set():
                mono = time.monotonic()
                if mono - last_refresh >= self.cfg.refresh_s or self._refresh_now.is_set():
                    self._refresh_now.clear()
                    try:
                        self.refresh()
                    except Exception:
                        log.exception("universe refresh failed")
                    last_refresh = mono
                self._maybe_close_restart_gap()
                if mono - last_status >= self.cfg.status_interval_s:
                    self._write_status_guarded()
                    last_status = mono
                self.stop_event.wait(0.2)
        finally:
            self._shutdown()
        return 0

    def request_stop(self) -> None:
        self.stop_event.set()

    def _shutdown(self) -> None:
        for conn in list(self.connections.values()):
            conn.stop()
        for conn in list(self.connections.values()):
            conn.join(timeout=5)
        self.backfiller.stop()
        self.backfiller.join(timeout=15)
        self.writer.stop()
        self.writer.join(timeout=30)
        try:
            self.writer.flush()
        except Exception:
            log.exception("final flush failed")
        now = self.clock.now()
        with self._state_lock:
            self.state["clean_shutdown"] = self.writer.pending_rows() == 0
            self.state["stopped_at"] = now
        self._save_state()
        self._write_status_guarded(final=True)
        self.clock.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)

    # -- status -------------------------------------------------------------------------------------------

    def _write_status_guarded(self, final: bool = False) -> None:
        try:
            self.write_status(final=final)
        except OSError as exc:
            self.status_write_errors += 1
            self.last_write_error = f"status.json: {exc}"
            if self.status_write_errors == 1 or self.status_write_errors % 100 == 0:
                log.warning(
                    "cannot write %s (%d times): %s", self.cfg.status_path, self.status_write_errors, exc
                )

    def write_status(self, final: bool = False) -> dict:
        now = self.clock.now()
        conns = [c.snapshot() for c in self.connections.values()]
        messages = sum(p.messages for p in self.processors.values())
        mono = time.monotonic()
        last_mono, last_messages = self._last_status
        if mono > last_mono:
            self.msgs_per_s = max(0.0, (messages - last_messages) / (mono - last_mono))
        self._last_status = (mono, messages)
        ages = [c["last_message_age_s"] for c in conns if c["last_message_age_s"] is not None]
        hour_ago = now - 3600
        recent = [g for g in list(self._gaps) if g[0] >= hour_ago]
        unknown: dict[str, int] = {}
        for p in self.processors.values():
            for k, v in p.unknown.items():
                unknown[k] = unknown.get(k, 0) + v
        status = {
            "state": "stopped" if final else "running",
            "pid": os.getpid(),
            "run_id": self.run_id,
            "clock": self.cfg.clock,
            "started_at": _iso(self.state.get("started_at")),
            "updated_at": _iso(now),
            "updated_at_epoch": now,
            "updated_at_wall": time.time(),
            "markets_source": self.markets_source,
            "universe_kept": self.universe_kept,
            "universe_last_problem": self.universe_last_problem,
            "connections": conns,
            "connections_total": len(conns),
            "connections_live": sum(1 for c in conns if c["state"] == "live" and not c["in_outage"]),
            "subscribed_assets": sum(c["assets"] for c in conns),
            "subscribed_markets": len(self.plan.assignment),
            "messages_total": messages,
            "msgs_per_s": round(self.msgs_per_s, 1),
            "last_message_age_s": min(ages) if ages else None,
            "oldest_connection_message_age_s": max(ages) if ages else None,
            "gaps_last_hour": len(recent),
            "gaps_last_hour_by_reason": {
                r: sum(1 for g in recent if g[2] == r) for r in sorted({g[2] for g in recent})
            },
            "gap_seconds_last_hour": round(
                sum(
                    min(g[0], now) - max(g[1], hour_ago)
                    for g in recent
                    if g[2] not in (RESYNC, PLANNED_RESTART)
                ),
                3,
            ),
            "restart_gap_open": self.restart_gap is not None,
            "planned_restart_open": self._planned_restart_open(),
            "planned_restarts_seen": self.restart_watch.windows,
            "files_written": dict(self.writer.files_written),
            "rows_written": dict(self.writer.rows_written),
            "last_file": self.writer.last_file_key,
            "last_flush_age_s": round(time.time() - self.writer.last_flush_wall, 3),
            "pending_rows": self.writer.pending_rows(),
            "writer_errors": self.writer.errors,
            "writer_consecutive_errors": self.writer.consecutive_errors,
            "writer_last_error": self.writer.last_error,
            "writer_rows_quarantined": dict(self.writer.rows_quarantined),
            "writes_failing": self.writer.failing_since is not None,
            "writes_failing_since": _iso(self.writer.failing_since),
            "rows_dropped": dict(self.writer.rows_dropped),
            "status_write_errors": self.status_write_errors,
            "state_write_errors": self.state_write_errors,
            "last_write_error": self.last_write_error,
            "quarantined": self.quarantine.count,
            "unknown_events": unknown,
            "book_checks": sum(c["book_checks"] for c in conns),
            "book_mismatches": sum(c["book_mismatches"] for c in conns),
            "book_resyncs": sum(c.resynced_assets for c in self.connections.values()),
            "backfill": {
                **{k: int(v) for k, v in self.backfiller.stats.items()},
                "audited_through": _iso(self.backfiller.audited_through),
                "audited_through_epoch": self.backfiller.audited_through,
                "pending_jobs": len(self.backfiller.pending()),
                "last_error": self.backfiller.last_error,
            },
            "durable_through": _iso(self.state.get("durable_through")),
            "durable_through_epoch": self.state.get("durable_through"),
            "trade_index_size": len(self.index),
            "cpu_seconds": round(time.process_time(), 3),
        }
        write_json_atomic(self.cfg.status_path, status)
        return status
