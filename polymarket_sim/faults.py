"""Fault injection for /gamma, /clob, /data and /ws (never /control): profiles, rates and the HTTP middleware.

Each HTTP request draws once against the cumulative rates of the HTTP fault kinds, so rates are per-request
probabilities and at most one fault hits a request. WS fault rates are read by the WS hub. Delays and hangs
wait on the middleware's `sleep` (asyncio's; tests pass a fake that records them).
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable

from aiohttp import web

from .http_util import dumps

HTTP_KINDS = ("delay", "http429", "http5xx", "hang", "cloudflare403", "error200", "malformed", "bad_record")

PROFILES: dict[str, dict] = {
    "none": {},
    # Survivable by a client that retries with backoff: about 1 request in 25 is affected.
    "light": {
        "delay_rate": 0.02,
        "http429_rate": 0.008,
        "http5xx_rate": 0.008,
        "hang_rate": 0.001,
        "cloudflare403_rate": 0.002,
        "error200_rate": 0.004,
        "malformed_rate": 0.004,
        "ws_disconnect_per_min": 0.1,
        "ws_freeze_per_min": 0.05,
        "ws_malformed_rate": 0.001,
    },
    # Hard but survivable: about 1 request in 5 is affected; sockets drop about once a minute.
    "heavy": {
        "delay_rate": 0.06,
        "http429_rate": 0.04,
        "http5xx_rate": 0.04,
        "hang_rate": 0.01,
        "cloudflare403_rate": 0.015,
        "error200_rate": 0.02,
        "malformed_rate": 0.02,
        "ws_disconnect_per_min": 1.0,
        "ws_freeze_per_min": 0.3,
        "ws_malformed_rate": 0.01,
    },
}

DEFAULTS = {
    "delay_rate": 0.0,
    "delay_min_s": 0.2,
    "delay_max_s": 1.5,
    "http429_rate": 0.0,
    "retry_after_s": 1,
    "http5xx_rate": 0.0,
    "hang_rate": 0.0,
    "hang_s": 20.0,
    "cloudflare403_rate": 0.0,
    "error200_rate": 0.0,
    "malformed_rate": 0.0,
    # Valid JSON in which one record carries an impossible value (a price of 1.7, mismatched outcome arrays).
    "bad_record_rate": 0.0,
    "ws_disconnect_per_min": 0.0,
    "ws_freeze_per_min": 0.0,
    "ws_freeze_s": 15.0,
    "ws_malformed_rate": 0.0,
    "rate_limit_mode": "throttle",
    # Test knobs: every limit is multiplied by the scale, and the 10 s window can be shortened.
    "rate_limit_scale": 1.0,
    "rate_limit_window_s": 10.0,
}

CLOUDFLARE_HTML = """<!DOCTYPE html>
<!--[if lt IE 7]> <html class="no-js ie6 oldie" lang="en-US"> <![endif]-->
<html lang="en-US">
<head>
<title>Attention Required! | Cloudflare</title>
<meta charset="UTF-8" />
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
</head>
<body>
<div id="cf-wrapper">
  <div id="cf-error-details" class="cf-error-details-wrapper">
    <h1 data-translate="block_headline">Sorry, you have been blocked</h1>
    <h2 class="cf-subheadline">You are unable to access polymarket.com</h2>
    <p>This website is using a security service to protect itself from online attacks.</p>
    <span class="cf-footer-item">Cloudflare Ray ID: <strong>8c1f2b3a4d5e6f70</strong></span>
  </div>
</div>
</body>
</html>
"""


class FaultConfig:
    def __init__(self, profile: str = "none", seed: int = 0, **overrides) -> None:
        self.rng = random.Random(seed * 1_000_003 + 17)
        self.profile = "none"
        self.values = dict(DEFAULTS)
        self.update({"profile": profile, **overrides})

    def update(self, body: dict) -> None:
        """Apply a profile (resetting all rates to it) and/or individual values."""
        body = dict(body)
        profile = body.pop("profile", None)
        if profile is not None:
            if profile not in PROFILES:
                raise ValueError(f"unknown fault profile {profile!r}; choose one of {sorted(PROFILES)}")
            keep = {k: self.values[k] for k in ("rate_limit_mode", "rate_limit_scale", "rate_limit_window_s")}
            self.values = {**DEFAULTS, **PROFILES[profile], **keep}
            self.profile = profile
        for key, value in body.items():
            if key not in DEFAULTS:
                raise KeyError(f"unknown fault setting {key!r}")
            if key == "rate_limit_mode":
                if value not in ("throttle", "429", "off"):
                    raise ValueError("rate_limit_mode must be throttle, 429 or off")
                self.values[key] = value
            else:
                self.values[key] = float(value)
                if key.endswith("_rate") and not 0.0 <= self.values[key] <= 1.0:
                    raise ValueError(f"{key} must be within [0, 1]")
            if not key.startswith("rate_limit") and profile is None:
                self.profile = "custom"

    def as_dict(self) -> dict:
        return {"profile": self.profile, **self.values}

    def draw_http(self) -> str | None:
        r = self.rng.random()
        for kind in HTTP_KINDS:
            r -= self.values[kind + "_rate"]
            if r < 0:
                return kind
        return None

    def __getitem__(self, key: str):
        return self.values[key]


def truncate(body: bytes, rng: random.Random) -> bytes:
    """A malformed body that no JSON parser accepts: cut off mid-document, or with a NUL byte spliced in
    (a raw control character is invalid both inside and outside JSON strings)."""
    if len(body) < 4 or rng.random() < 0.7:
        return body[: max(1, len(body) // 2)]
    i = rng.randrange(1, len(body) - 1)
    return body[:i] + b"\x00" + body[i:]


def _records(doc):
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict) and isinstance(doc.get("markets"), list):
        return doc["markets"]
    return None


def corrupt_one_record(body: bytes, rng: random.Random) -> bytes | None:
    """Give one record of a list response an impossible value, keeping the JSON valid; None if there is none.

    Books get a price above 1, Gamma markets an outcome id list (`positionIds` on a v2 market, `clobTokenIds`
    otherwise) shorter than `outcomes`, Data API trades a
    negative price: what a parser must quarantine rather than store or crash on.
    """
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    records = [r for r in (_records(doc) or []) if isinstance(r, dict)]
    if not records:
        return None
    record = rng.choice(records)
    if "bids" in record and "asks" in record:
        record["bids"] = list(record["bids"]) + [{"price": "1.7", "size": "10"}]
    elif record.get("version") == "v2" and isinstance(record.get("positionIds"), list):
        record["positionIds"] = record["positionIds"][:1]
    elif "clobTokenIds" in record:
        ids = (
            json.loads(record["clobTokenIds"])
            if isinstance(record["clobTokenIds"], str)
            else record["clobTokenIds"]
        )
        record["clobTokenIds"] = json.dumps(list(ids)[:1])
    elif "transactionHash" in record:
        record["price"] = -0.5
    else:
        return None
    return dumps(doc).encode()


def middleware(faults: FaultConfig, stats, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep):
    @web.middleware
    async def fault_middleware(request: web.Request, handler):
        path = request.path
        if path.startswith(("/control", "/ws")):
            return await handler(request)
        kind = faults.draw_http()
        if kind is None:
            return await handler(request)
        stats.faults[kind] += 1
        if kind == "delay":
            await sleep(faults.rng.uniform(faults["delay_min_s"], faults["delay_max_s"]))
            return await handler(request)
        if kind == "http429":
            return web.Response(
                status=429,
                text=dumps({"error": "Too Many Requests"}),
                content_type="application/json",
                headers={"Retry-After": str(int(faults["retry_after_s"]))},
            )
        if kind == "http5xx":
            status = faults.rng.choice([500, 502, 503, 504])
            return web.Response(
                status=status, text=dumps({"error": "internal server error"}), content_type="application/json"
            )
        if kind == "hang":
            # Hold the request past any sane client timeout, then answer normally (if anyone still listens).
            await sleep(faults["hang_s"])
            return await handler(request)
        if kind == "cloudflare403":
            return web.Response(status=403, text=CLOUDFLARE_HTML, content_type="text/html")
        if kind == "error200":
            return web.Response(
                status=200, text=dumps({"error": "Too Many Requests"}), content_type="application/json"
            )
        resp = await handler(request)
        body = resp.body if isinstance(resp, web.Response) and resp.body is not None else b"{}"
        if isinstance(body, str):
            body = body.encode()
        if kind == "bad_record":
            corrupted = corrupt_one_record(bytes(body), faults.rng)
            if corrupted is None:
                stats.faults[kind] -= 1  # nothing in this response can carry a bad record
                return resp
            return web.Response(status=resp.status, body=corrupted, content_type="application/json")
        return web.Response(
            status=resp.status, body=truncate(bytes(body), faults.rng), content_type="application/json"
        )

    return fault_middleware
