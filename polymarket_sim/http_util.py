"""Small helpers shared by the HTTP surfaces: JSON responses and query-parameter parsing."""

from __future__ import annotations

import json

from aiohttp import web


def dumps(obj) -> str:
    return json.dumps(obj, separators=(",", ":"))


def jresp(obj, status: int = 200, headers: dict | None = None) -> web.Response:
    return web.Response(text=dumps(obj), status=status, content_type="application/json", headers=headers)


def error(status: int, message: str, **extra) -> web.Response:
    return jresp({"error": message, **extra}, status=status)


def multi(request: web.Request, key: str) -> list[str]:
    """Array parameters: repeated keys, `key[]`, and comma-separated values are all accepted."""
    out: list[str] = []
    for k in (key, key + "[]"):
        for v in request.query.getall(k, []):
            out.extend(x.strip() for x in v.split(",") if x.strip())
    return out


def boolean(request: web.Request, key: str):
    """None when absent; True/False for true/false (case-insensitive); ValueError otherwise."""
    v = request.query.get(key)
    if v is None or v == "":
        return None
    lv = v.lower()
    if lv in ("true", "1"):
        return True
    if lv in ("false", "0"):
        return False
    raise ValueError(f"invalid boolean for {key}")


def integer(request: web.Request, key: str, default: int | None = None) -> int | None:
    v = request.query.get(key)
    if v is None or v == "":
        return default
    return int(v)
