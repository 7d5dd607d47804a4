"""A test-side market-channel client on websocket-client: collects messages and keeps local books."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import websocket


class WSClient:
    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self.ws = websocket.create_connection(url, timeout=timeout)
        self.books: dict[str, dict] = {}
        self.messages: list[dict] = []
        self.frames: list[str] = []
        self.pongs = 0

    def send(self, obj) -> None:
        self.ws.send(obj if isinstance(obj, str) else json.dumps(obj))

    def subscribe(self, assets, custom=False, **extra) -> None:
        self.send({"assets_ids": list(assets), "type": "market", "custom_feature_enabled": custom, **extra})

    def recv_frame(self, timeout: float = 5.0):
        self.ws.settimeout(timeout)
        text = self.ws.recv()
        self.frames.append(text)
        if text == "PONG":
            self.pongs += 1
            return "PONG"
        data = json.loads(text)
        items = data if isinstance(data, list) else [data]
        for m in items:
            self.messages.append(m)
            self._apply(m)
        return data

    def drain(self, quiet: float = 0.5, limit_s: float = 30.0) -> int:
        """Read until no frame arrives for `quiet` seconds; returns frames read."""
        n = 0
        end = time.time() + limit_s
        while time.time() < end:
            try:
                self.recv_frame(timeout=quiet)
                n += 1
            except websocket.WebSocketTimeoutException:
                break
        return n

    def _apply(self, m: dict) -> None:
        et = m.get("event_type")
        if et == "book":
            self.books[m["asset_id"]] = {
                "bids": {x["price"]: x["size"] for x in m["bids"]},
                "asks": {x["price"]: x["size"] for x in m["asks"]},
                "hash": m["hash"],
            }
        elif et == "price_change":
            for ch in m["price_changes"]:
                b = self.books.get(ch["asset_id"])
                if b is None:
                    continue
                side = b["bids"] if ch["side"] == "BUY" else b["asks"]
                if Decimal(ch["size"]) == 0:
                    side.pop(ch["price"], None)
                else:
                    side[ch["price"]] = ch["size"]
                b["hash"] = ch["hash"]

    def close(self) -> None:
        try:
            self.ws.close()
        except (OSError, websocket.WebSocketException):
            pass  # already closed by the server (several tests make it do exactly that)


def rest_levels(book: dict) -> dict:
    return {
        "bids": {x["price"]: x["size"] for x in book["bids"]},
        "asks": {x["price"]: x["size"] for x in book["asks"]},
    }
