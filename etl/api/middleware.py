"""The outermost layer of every request: request id, the HTTPS rule, the 500 envelope, the log line.

A pure ASGI middleware (no BaseHTTPMiddleware): it costs a few microseconds per request.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from etl.api.errors import API_ERROR, error_response
from etl.logs import get_logger

log = get_logger("etl.api")
_CLIENT_RID = re.compile(r"^[A-Za-z0-9._\-]{8,64}$")
HTTPS_EXEMPT = ("/healthz",)


def _header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope.get("headers", ()):
        if k == name:
            return v.decode("latin-1")
    return None


def is_secure(scope: Scope) -> bool:
    """Served over TLS, or forwarded by a proxy that terminated HTTPS."""
    if scope.get("scheme") in ("https", "wss"):
        return True
    proto = _header(scope, b"x-forwarded-proto")
    return proto is not None and proto.split(",")[0].strip().lower() == "https"


class RequestMiddleware:
    def __init__(self, app: ASGIApp, *, require_https: bool = False) -> None:
        self.app = app
        self.require_https = require_https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        given = _header(scope, b"x-request-id")
        rid = given if given and _CLIENT_RID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        rid_header = (b"x-request-id", rid.encode())
        status = 500
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status = message["status"]
                started = True
                message = {**message, "headers": [*message.get("headers", ()), rid_header]}
            await send(message)

        path: str = scope.get("path", "")
        try:
            if self.require_https and path not in HTTPS_EXEMPT and not is_secure(scope):
                await self._reply(
                    scope,
                    receive,
                    send_with_id,
                    403,
                    "HTTPS is required: use https://, or a proxy that sets X-Forwarded-Proto: https",
                )
            elif "\x00" in path or b"%00" in scope.get("query_string", b"").lower():
                await self._reply(
                    scope, receive, send_with_id, 400, "NUL characters are not allowed in URLs"
                )
            else:
                await self.app(scope, receive, send_with_id)
        except Exception:
            # The trace goes to the log line with the request id, never to the client.
            log.exception(
                "api.unhandled_error", request_id=rid, method=scope.get("method"), path=path
            )
            status = 500
            if not started:
                resp = error_response(
                    500,
                    f"An unexpected error occurred. Request id: {rid}",
                    type_=API_ERROR,
                    request_id=rid,
                )
                await resp(scope, receive, send_with_id)
        finally:
            log.info(
                "api.request",
                method=scope.get("method"),
                path=path,
                status=status,
                duration_ms=round((time.perf_counter() - start) * 1000, 3),
                request_id=rid,
            )

    @staticmethod
    async def _reply(scope: Scope, receive: Receive, send: Any, status: int, message: str) -> None:
        await error_response(status, message)(scope, receive, send)
