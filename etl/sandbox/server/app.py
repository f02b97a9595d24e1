"""A Stripe-compatible HTTP server over a generated account (`etl sandbox serve`).

The official `stripe` SDK, pointed at `base_url`, works unchanged: list and retrieve
of the billing resources with Stripe's list rules, `expand[]`, its error envelope,
authentication, rate limiting and injected faults. Read-only, except for the test
helper `POST /v1/test_helpers/advance?days=N` which moves the account's clock.

Endpoints that are not Stripe's: `GET /_sandbox/stats` (request counters; no key
needed, not counted). The test helper and the stats are exempt from `rate_limit` and
`fault_rate`, so that a test can always move the clock exactly once.
"""

from __future__ import annotations

import base64
import gc
import os
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import NoReturn
from urllib.parse import parse_qsl, urlsplit

from etl.logs import get_logger
from etl.sandbox.server.faults import FAULT_KINDS, FaultInjector, RateLimiter
from etl.sandbox.server.httpd import SandboxHTTPServer, SandboxRequestHandler
from etl.sandbox.server.listing import ApiError, Obj, Params, parse_params
from etl.sandbox.server.routing import ADVANCE_PATH, Handler, Router
from etl.sandbox.server.served import AccountLike, ServedAccount, dumps, freeze_heap
from etl.sandbox.server.shapes import API_SHAPES, LEGACY_API_VERSION

__all__ = ["CURRENT_API_VERSION", "FAULT_KINDS", "AccountLike", "Response", "SandboxServer"]

log = get_logger(__name__)

CURRENT_API_VERSION = "2026-10-28.endive"


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class SandboxServer:
    """Serves an account over HTTP on a background thread.

    >>> with SandboxServer(account) as srv:
    ...     client = stripe.StripeClient("sk_test_x", base_addresses={"api": srv.base_url})
    """

    def __init__(
        self,
        account: AccountLike,
        api_shapes: str = "current",
        rate_limit: float | None = None,
        fault_rate: float = 0.0,
        fault_seed: int = 0,
        *,
        slow_reply_seconds: tuple[float, float] = (1.0, 2.0),
    ) -> None:
        if api_shapes not in API_SHAPES:
            raise ValueError(f"api_shapes must be one of {', '.join(API_SHAPES)}")
        self.faults = FaultInjector(fault_rate, fault_seed, slow_reply_seconds)
        self.account = account
        self.api_shapes = api_shapes
        self.served = ServedAccount(account, api_shapes)
        self.router = Router(self.served, api_shapes, self.advance)
        self.limiter = RateLimiter(rate_limit) if rate_limit else None
        self.fault_rate = fault_rate
        self.slow_reply_seconds = slow_reply_seconds
        self._stats_lock = threading.Lock()
        self._by_path: dict[str, Counter[str]] = defaultdict(Counter)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url: str | None = None

    # -- lifecycle

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        if self._httpd is not None:
            raise RuntimeError("the sandbox server is already running")
        handler = type("SandboxHandler", (SandboxRequestHandler,), {"sandbox": self})
        httpd = SandboxHTTPServer((host, port), handler)
        self._httpd = httpd
        bound_host, bound_port = httpd.server_address[:2]
        if isinstance(bound_host, bytes):
            bound_host = bound_host.decode()
        self.base_url = f"http://{bound_host}:{bound_port}"
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="stripe-sandbox",
            daemon=True,
        )
        self._thread.start()
        freeze_heap()
        return self.base_url

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        gc.unfreeze()  # the account may be collected again once it is dropped
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._thread = None

    def __enter__(self) -> SandboxServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- account control

    def advance(self, days: int) -> Obj:
        with self.account.lock:
            events = self.account.advance(days)
            self.served.invalidate()
        freeze_heap()
        with self.account.lock:
            return {"object": "sandbox_clock", "now": self.account.now, "events": len(events)}

    def stats(self) -> Obj:
        with self._stats_lock:
            by_path = {p: dict(sorted(c.items())) for p, c in sorted(self._by_path.items())}
            by_status: Counter[str] = Counter()
            for counts in self._by_path.values():
                by_status.update(counts)
            return {
                "object": "sandbox_stats",
                "total": sum(by_status.values()),
                "by_path": by_path,
                "by_status": dict(sorted(by_status.items())),
                "faults": self.faults.counts(),
                "rate_limited": by_status.get("429", 0),
            }

    def _count(self, template: str, status: str) -> None:
        with self._stats_lock:
            self._by_path[template][status] += 1

    # -- one request

    def handle(
        self, method: str, raw_path: str, headers: Mapping[str, str], body: bytes
    ) -> Response | None:
        """The response to a request, or None to drop the connection."""
        request_id = "req_" + base64.b32encode(os.urandom(10)).decode().lower().rstrip("=")[:14]
        version = headers.get("stripe-version") or (
            LEGACY_API_VERSION if self.api_shapes == "legacy" else CURRENT_API_VERSION
        )
        common = {"Request-Id": request_id, "Stripe-Version": version}
        split = urlsplit(raw_path)
        path = split.path.rstrip("/") or "/"
        if path == "/_sandbox/stats" and method == "GET":
            return Response(200, dumps(self.stats()), common)
        template = "unmatched"
        try:
            params = _request_params(method, split.query, body)
            template, handler = self._route_or_unmatched(method, path, params)
            if template != ADVANCE_PATH and not self._admit(method, template):
                return None
            _authenticate(headers.get("authorization"))
            if handler is None:
                self._raise_routing_error(method, path, params)
            with self.account.lock:
                self.served.refresh()
                result = handler()
            payload = result if isinstance(result, bytes) else dumps(result)
            response = Response(200, payload, common)
        except ApiError as exc:
            response = Response(exc.status, dumps(exc.body()), {**common, **exc.headers})
            if exc.status == 401:
                response.headers["WWW-Authenticate"] = 'Bearer realm="Stripe"'
        except Exception:  # a request handler: any failure becomes Stripe's 500, logged
            log.exception("sandbox.request_failed", request_id=request_id)
            error = ApiError(
                500, f"An unexpected error occurred (request {request_id}).", type_="api_error"
            )
            response = Response(500, dumps(error.body()), common)
        self._count(f"{method} {template}", str(response.status))
        return response

    def _raise_routing_error(self, method: str, path: str, params: Params) -> NoReturn:
        """The router's own error for a request it does not match (after auth, as Stripe)."""
        self.router.route(method, path, params)
        raise AssertionError(f"the router matched {method} {path} on the second try")

    def _route_or_unmatched(
        self, method: str, path: str, params: Params
    ) -> tuple[str, Handler | None]:
        try:
            return self.router.route(method, path, params)
        except ApiError:
            return "unmatched", None

    def _admit(self, method: str, template: str) -> bool:
        """Rate limit and injected faults: raises the 429, 500 and 503 errors, sleeps
        before a slow reply, returns False when the connection is to be dropped."""
        if self.limiter is not None and not self.limiter.allow():
            raise ApiError(
                429,
                "Too many requests hit the API too quickly. We recommend an exponential "
                "backoff of your requests.",
                code="rate_limit",
                headers={"Stripe-Rate-Limited-Reason": "global-rate"},
            )
        fault = self.faults.draw()
        if fault is None:
            return True
        kind, delay = fault
        if kind == "dropped":
            self._count(f"{method} {template}", "dropped")
            return False
        if kind == "slow":
            time.sleep(delay)
            return True
        if kind == "500":
            raise ApiError(
                500, "An unknown error occurred (injected by the sandbox).", type_="api_error"
            )
        raise ApiError(
            503,
            "The service is temporarily unavailable (injected by the sandbox).",
            type_="api_error",
            headers={"Stripe-Should-Retry": "true"},
        )


def _request_params(method: str, query: str, body: bytes) -> Params:
    """The query string's parameters, and a POST body's form parameters over them."""
    params = parse_params(parse_qsl(query, keep_blank_values=True))
    if method == "POST" and body:
        params.update(
            parse_params(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        )
    return params


def _authenticate(header: str | None) -> None:
    key = None
    if header:
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() == "bearer":
            key = value.strip()
        elif scheme.lower() == "basic":
            try:
                key = base64.b64decode(value.strip()).decode().partition(":")[0]
            except (ValueError, UnicodeDecodeError):
                key = None
    if not key:
        raise ApiError(
            401,
            "You did not provide an API key. You need to provide your API key in the "
            "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
            "YOUR_SECRET_KEY').",
        )
    if not key.startswith(("sk_test_", "rk_test_")) or len(key) <= 8:
        shown = (
            key[:8] + "*" * max(0, len(key) - 12) + key[-4:] if len(key) > 12 else key[:3] + "***"
        )
        raise ApiError(401, f"Invalid API Key provided: {shown}", code="api_key_invalid")
