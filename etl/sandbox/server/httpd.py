"""HTTP plumbing of the sandbox server: a threading HTTP/1.1 server with keep-alive and
a request handler that hands every request to `SandboxServer.handle`.
"""

from __future__ import annotations

import sys
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from etl.logs import get_logger

if TYPE_CHECKING:
    from etl.sandbox.server.app import SandboxServer

log = get_logger(__name__)


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    # The stdlib's signature; neither argument is needed here.
    def handle_error(self, request: Any, client_address: Any) -> None:  # noqa: ARG002
        # A client that hangs up mid-answer (timeouts, retries) is normal, not an error.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return
        log.error("sandbox.connection_failed", trace=traceback.format_exc())


class SandboxRequestHandler(BaseHTTPRequestHandler):
    sandbox: SandboxServer
    protocol_version = "HTTP/1.1"
    server_version = "stripe-sandbox"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = 120  # idle keep-alive connections end after this

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        response = self.sandbox.handle(self.command, self.path, headers, body)
        if response is None:
            self.close_connection = True
            return
        head = [f"HTTP/1.1 {response.status} {_reason(response.status)}"]
        head.append("Content-Type: application/json")
        head.append(f"Content-Length: {len(response.body)}")
        head.append("Cache-Control: no-cache, no-store")
        head.extend(f"{k}: {v}" for k, v in response.headers.items())
        if self.close_connection:
            head.append("Connection: close")
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(data + (response.body if self.command != "HEAD" else b""))

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = do_HEAD = _serve

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # counters at /_sandbox/stats instead of a line per request


def _reason(status: int) -> str:
    return {
        200: "OK",
        400: "Bad Request",
        401: "Unauthorized",
        404: "Not Found",
        429: "Too Many Requests",
        500: "Internal Server Error",
        503: "Service Unavailable",
    }.get(status, "Error")
