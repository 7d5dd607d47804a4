"""Start the simulator from Python: run_sim() runs the CLI in a subprocess and yields a SimHandle.

A subprocess keeps the server off the caller's GIL, so a test or benchmark measures its own code, not the
simulator competing with it. SimControl is a thin requests client for the /control endpoints.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass, field

import requests


class SimControl:
    """Thin wrappers over /control. Times are epoch seconds."""

    def __init__(self, base_url: str, timeout: float = 60.0) -> None:
        self.base = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()

    def _get(self, path: str, **params):
        r = self.session.get(
            self.base + path, params={k: v for k, v in params.items() if v is not None}, timeout=self.timeout
        )
        r.raise_for_status()
        return r.json()

    def _post(self, path: str, body: dict | None = None):
        r = self.session.post(self.base + path, json=body or {}, timeout=self.timeout)
        r.raise_for_status()
        return r.json()

    def clock(self) -> dict:
        return self._get("/clock")

    def now(self) -> float:
        return float(self.clock()["now"])

    def set_time(self, ts) -> dict:
        return self._post("/clock", {"set": ts})

    def advance(self, seconds: float) -> dict:
        return self._post("/clock", {"advance": seconds})

    def set_speed(self, x: float) -> dict:
        return self._post("/clock", {"speed": x})

    def faults(self) -> dict:
        return self._get("/faults")

    def set_faults(self, profile: str | None = None, **rates) -> dict:
        body = dict(rates)
        if profile is not None:
            body["profile"] = profile
        return self._post("/faults", body)

    def markets(self, state: str | None = None) -> list[dict]:
        return self._get("/markets", state=state)

    def truth_trades(self, condition_ids=None, start=None, end=None) -> list[dict]:
        if condition_ids is not None and not isinstance(condition_ids, str):
            condition_ids = ",".join(condition_ids)
        return self._get("/truth/trades", condition_ids=condition_ids, start=start, end=end)

    def truth_book(self, token_id: str, ts=None) -> dict:
        return self._get("/truth/book", token_id=token_id, ts=ts)

    def served_books(self, token_id: str | None = None) -> dict:
        return self._get("/truth/served_books", token_id=token_id)

    def schedule_restart(self, start=None, in_s: float | None = None) -> dict:
        return self._post(
            "/restart", {"start": start} if start is not None else {"in_s": in_s if in_s is not None else 120}
        )

    def restarts(self, start=None, end=None) -> list[dict]:
        return self._get("/restarts", start=start, end=end)

    def ws_custom_events(self) -> list[dict]:
        return self._get("/truth/ws_custom_events")

    def stats(self) -> dict:
        return self._get("/stats")

    def ws_disconnect_all(self) -> dict:
        return self._post("/ws/disconnect_all")

    def ws_freeze(self, seconds: float) -> dict:
        return self._post("/ws/freeze", {"seconds": seconds})

    def ws_burst(self, n: int) -> dict:
        return self._post("/ws/burst", {"n": n})


@dataclass
class SimHandle:
    urls: dict
    process: subprocess.Popen
    control: SimControl
    env: dict = field(default_factory=dict)


def _cli_args(markets, seed, speed, faults, informed_flow, start, extra: dict) -> list[str]:
    args = [
        "--port",
        str(extra.pop("port", 0)),
        "--markets",
        str(markets),
        "--seed",
        str(seed),
        "--speed",
        str(speed),
        "--faults",
        faults,
        "--informed-flow",
        str(informed_flow),
    ]
    if start is not None:
        args += ["--start", str(start)]
    for key, value in extra.items():
        args += ["--" + key.replace("_", "-"), str(value)]
    return args


@contextlib.contextmanager
def run_sim(
    markets: int = 200,
    seed: int = 7,
    speed: float = 1.0,
    faults: str = "none",
    informed_flow: float = 0.0,
    start=None,
    startup_timeout: float = 60.0,
    stderr=None,
    **extra,
):
    """Run `python -m polymarket_sim` in a subprocess; yield a SimHandle; terminate it on exit.

    Extra keyword arguments become CLI flags (books_batch_max=100 -> --books-batch-max 100). `stderr` (a file
    object) receives the server's log; by default it is inherited.
    """
    cmd = [sys.executable, "-m", "polymarket_sim"] + _cli_args(
        markets, seed, speed, faults, informed_flow, start, dict(extra)
    )
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    try:
        line_box: list[str] = []
        reader = threading.Thread(target=lambda: line_box.append(proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(startup_timeout)
        if not line_box or not line_box[0].strip():
            raise RuntimeError(f"polymarket_sim did not start (exit code {proc.poll()})")
        urls = json.loads(line_box[0])
        yield SimHandle(
            urls=urls, process=proc, control=SimControl(urls["PM_SIM_CONTROL_URL"]), env=dict(urls)
        )
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout:
            proc.stdout.close()
