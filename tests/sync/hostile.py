"""A hostile Stripe for tests: the sandbox behind a proxy that spoils chosen answers.

Every request is forwarded to a real sandbox server; a rule may replace the answer of
a path with a malformed page, the same page again (`has_more` with no progress), a body
trickled a byte at a time, or silence. Everything the rule leaves alone is the sandbox's
own answer, so a sync against it is a real sync until the spoiled page comes.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson


@dataclass
class Reply:
    """What the proxy answers instead: a body (status 200), trickled or not, or nothing."""

    body: bytes = b""
    status: int = 200
    # Seconds between bytes of the body (0: all at once).
    trickle_s: float = 0.0
    # Never answer (until the proxy stops).
    silent: bool = False


# (path, query, the sandbox's answer as JSON, whatever its status) -> a Reply, or None for the sandbox's own.
Rule = Callable[[str, dict[str, str], Any], Reply | None]


class HostileStripe:
    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.rule: Rule | None = None
        self.spoiled = 0
        self.stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self.base_url = ""

    def _forward(self, handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection(*self.upstream, timeout=30)
        try:
            headers = {k: v for k, v in handler.headers.items() if k.lower() != "host"}
            length = int(handler.headers.get("Content-Length") or 0)
            body = handler.rfile.read(length) if length else None
            conn.request(handler.command, handler.path, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()

    def _reply(self, handler: BaseHTTPRequestHandler) -> None:
        status, headers, body = self._forward(handler)
        parts = urlsplit(handler.path)
        rule = self.rule
        reply = None
        if rule is not None:
            reply = rule(parts.path, dict(parse_qsl(parts.query)), orjson.loads(body or b"{}"))
        if reply is None:
            self._send(handler, status, headers, body)
            return
        self.spoiled += 1
        if reply.silent:
            self.stopping.wait(600)
            return
        out = {"Content-Type": "application/json", "Request-Id": "req_hostile"}
        self._send(handler, reply.status, out, reply.body, trickle_s=reply.trickle_s)

    def _send(
        self,
        handler: BaseHTTPRequestHandler,
        status: int,
        headers: dict[str, str],
        body: bytes,
        *,
        trickle_s: float = 0.0,
    ) -> None:
        handler.send_response(status)
        for k, v in headers.items():
            if k.lower() not in ("content-length", "transfer-encoding", "connection", "date"):
                handler.send_header(k, v)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if not trickle_s:
            handler.wfile.write(body)
            return
        for i in range(len(body)):
            if self.stopping.wait(trickle_s):
                return
            handler.wfile.write(body[i : i + 1])
            handler.wfile.flush()

    def start(self) -> str:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                try:
                    proxy._reply(self)
                except (OSError, http.client.HTTPException):
                    self.close_connection = True

            do_POST = do_DELETE = do_GET

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.base_url = f"http://127.0.0.1:{server.server_address[1]}"
        return self.base_url

    def stop(self) -> None:
        self.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@contextmanager
def hostile(upstream: str) -> Iterator[HostileStripe]:
    proxy = HostileStripe(upstream)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()


def page(body: Any) -> Reply:
    return Reply(orjson.dumps(body))


def on_path(path: str, spoil: Callable[[Any], Any]) -> Rule:
    """A rule spoiling every answer of `path` with `spoil(answer)`."""

    def rule(p: str, _query: dict[str, str], answer: Any) -> Reply | None:
        return page(spoil(answer)) if p == path else None

    return rule


def elapsed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.monotonic()
    out = fn()
    return out, time.monotonic() - t0
