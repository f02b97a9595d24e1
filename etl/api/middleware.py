"""The outermost layer of every request: request id, the HTTPS rule, authentication, the
hot-response cache, the 500 envelope and the one log line.

A pure ASGI middleware (no BaseHTTPMiddleware). Authentication lives here rather than
in a FastAPI dependency so that a cached GET is answered without routing or
dependency solving: its body was stored by the route after full validation, under the
exact path and query string, so serving it again is the same answer, only cheaper.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from etl.api.errors import API_ERROR, ApiError, error_response
from etl.api.http import JSON_TYPE, cache_key
from etl.logs import get_logger

if TYPE_CHECKING:
    from etl.api.state import ApiState

log = get_logger("etl.api")
_CLIENT_RID = re.compile(r"^[A-Za-z0-9._\-]{8,64}$")
HTTPS_EXEMPT = ("/healthz",)
# Under /v2 everything needs a key except the API's own documentation; so does /chart.
PUBLIC = ("/v2/openapi.json", "/v2/docs", "/v2/docs/oauth2-redirect")


def needs_key(path: str) -> bool:
    if path.startswith("/v2/"):
        return path not in PUBLIC
    return path == "/chart" or path.startswith("/chart/")


_JSON_HEADERS = [(b"content-type", JSON_TYPE.encode())]


def _header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope.get("headers", ()):
        if k == name:
            value: bytes = v
            return value.decode("latin-1")
    return None


def is_secure(scope: Scope) -> bool:
    """Served over TLS, or forwarded by a proxy that terminated HTTPS."""
    if scope.get("scheme") in ("https", "wss"):
        return True
    proto = _header(scope, b"x-forwarded-proto")
    return proto is not None and proto.split(",")[0].strip().lower() == "https"


def check_single_valued(query_string: bytes) -> None:
    """Every parameter of this API is one value: a repeated one is an error, not a guess."""
    seen: set[str] = set()
    for name, _value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if name in seen:
            raise ApiError(400, f"Parameter {name!r} is given more than once", param=name)
        seen.add(name)


class RequestMiddleware:
    def __init__(self, app: ASGIApp, *, state: ApiState, require_https: bool = False) -> None:
        self.app = app
        self.state = state
        self.require_https = require_https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        given = _header(scope, b"x-request-id")
        rid = given if given and _CLIENT_RID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        reply = _Reply(send, (b"x-request-id", rid.encode()))
        path: str = scope.get("path", "")
        try:
            keyed = await self._check(scope, path)
            body = self._cached_body(scope) if keyed else None
            if body is not None:
                await reply.json(body)
                return
            await self.app(scope, receive, reply.send)
        except ApiError as exc:
            resp = error_response(
                exc.status, exc.message, param=exc.param, type_=exc.type, headers=exc.headers
            )
            await resp(scope, receive, reply.send)
        except Exception:
            # The trace goes to the log line with the request id, never to the client.
            log.exception(
                "api.unhandled_error", request_id=rid, method=scope.get("method"), path=path
            )
            reply.status = 500
            if not reply.started:
                resp = error_response(
                    500,
                    f"An unexpected error occurred. Request id: {rid}",
                    type_=API_ERROR,
                    request_id=rid,
                )
                await resp(scope, receive, reply.send)
        finally:
            log.info(
                "api.request",
                method=scope.get("method"),
                path=path,
                status=reply.status,
                duration_ms=round((time.perf_counter() - start) * 1000, 3),
                request_id=rid,
            )

    async def _check(self, scope: Scope, path: str) -> bool:
        """The rules before routing: HTTPS, no NUL, a valid key, single-valued parameters.
        True when the path needed (and got) a valid key."""
        query: bytes = scope.get("query_string", b"")
        if self.require_https and path not in HTTPS_EXEMPT and not is_secure(scope):
            raise ApiError(
                403,
                "HTTPS is required: use https://, or a proxy that sets X-Forwarded-Proto: https",
            )
        if "\x00" in path or b"%00" in query.lower():
            raise ApiError(400, "NUL characters are not allowed in URLs")
        if needs_key(path):
            await self.state.keys.authenticate_header(_header(scope, b"authorization"))
            if query:
                check_single_valued(query)
            return True
        return False

    def _cached_body(self, scope: Scope) -> bytes | None:
        """The stored body of an authenticated GET, when still fresh."""
        if scope["method"] != "GET":
            return None
        return self.state.cache.get(cache_key(scope))


class _Reply:
    """The client's `send`, adding the request id header and noting the status sent."""

    def __init__(self, send: Send, rid_header: tuple[bytes, bytes]) -> None:
        self._send = send
        self._rid_header = rid_header
        self.status = 500
        self.started = False

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.started = True
            message = {**message, "headers": [*message.get("headers", ()), self._rid_header]}
        await self._send(message)

    async def json(self, body: bytes) -> None:
        headers = [*_JSON_HEADERS, (b"content-length", str(len(body)).encode())]
        await self.send({"type": "http.response.start", "status": 200, "headers": headers})
        await self.send({"type": "http.response.body", "body": body})
