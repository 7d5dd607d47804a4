"""A scripted HTTP server on 127.0.0.1 for client tests: real sockets, exact response sequences.

Each route (method, path) holds a queue of ``Reply`` objects served in order, or a handler function that
builds a reply from the request. Replies can delay (to trip read timeouts), cut the body short, or stream it
chunked without a Content-Length. Every request is recorded for assertions.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Reply:
    status: int = 200
    body: Any = b""  # bytes/str sent as is; anything else is JSON-encoded
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # sleep before answering (trips the client's read timeout)
    truncate_to: int | None = None  # send only this many body bytes, then drop the connection
    stall_s: float = 0.0  # with truncate_to: pause this long mid-body, then send the rest
    chunked: bool = False  # Transfer-Encoding: chunked, no Content-Length

    def payload(self) -> tuple[bytes, str]:
        if isinstance(self.body, bytes):
            return self.body, "application/octet-stream"
        if isinstance(self.body, str):
            return self.body.encode(), "text/plain; charset=utf-8"
        return json.dumps(self.body).encode(), "application/json"


def json_reply(body: Any, status: int = 200, **kw) -> Reply:
    return Reply(
        status=status, body=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, **kw
    )


CLOUDFLARE_HTML = (
    "<!DOCTYPE html><html><head><title>Attention Required! | Cloudflare</title></head>"
    "<body><h1>Sorry, you have been blocked</h1></body></html>"
)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    headers: dict[str, str]

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


class _Server(ThreadingHTTPServer):
    # The default listen backlog of 5 drops SYNs when a test opens many connections at once, which shows up
    # as 1 s connect timeouts in the client: a stub artefact, not behaviour under test.
    request_queue_size = 128


class StubServer:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[tuple[str, str], deque[Reply]] = {}
        self._handlers: dict[tuple[str, str], Callable[[Request], Reply]] = {}
        self.requests: list[Request] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in separate writes

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw
                request = Request(
                    self.command,
                    parts.path,
                    parse_qs(parts.query, keep_blank_values=True),
                    body,
                    dict(self.headers),
                )
                reply = stub._next_reply(request)
                try:
                    stub._send(self, reply)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (read timeout): expected in hang tests

            do_GET = _handle
            do_POST = _handle

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> StubServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def script(self, method: str, path: str, *replies: Reply) -> None:
        with self._lock:
            self._queues.setdefault((method, path), deque()).extend(replies)

    def handle(self, method: str, path: str, handler: Callable[[Request], Reply]) -> None:
        with self._lock:
            self._handlers[(method, path)] = handler

    def calls(self, method: str | None = None, path: str | None = None) -> list[Request]:
        with self._lock:
            return [
                r
                for r in self.requests
                if (method is None or r.method == method) and (path is None or r.path == path)
            ]

    def _next_reply(self, request: Request) -> Reply:
        key = (request.method, request.path)
        with self._lock:
            self.requests.append(request)
            queue = self._queues.get(key)
            if queue:
                return queue.popleft()
            handler = self._handlers.get(key)
        if handler is not None:
            return handler(request)
        # Unscripted: a non-retryable status, so a test that forgot a reply fails at once.
        return json_reply({"error": f"unscripted {request.method} {request.path}"}, status=418)

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, reply: Reply) -> None:
        if reply.delay_s:
            time.sleep(reply.delay_s)
        data, default_type = reply.payload()
        h.send_response(reply.status)
        headers = {"Content-Type": default_type, **reply.headers}
        for name, value in headers.items():
            h.send_header(name, value)
        if reply.chunked:
            h.send_header("Transfer-Encoding", "chunked")
            h.end_headers()
            for start in range(0, len(data), 4096):
                piece = data[start : start + 4096]
                h.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            h.wfile.write(b"0\r\n\r\n")
            return
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if reply.truncate_to is not None:
            h.wfile.write(data[: reply.truncate_to])
            h.wfile.flush()
            if reply.stall_s:
                time.sleep(reply.stall_s)
                h.wfile.write(data[reply.truncate_to :])
                return
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)
            return
        h.wfile.write(data)
