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
import json
import os
import random
import sys
import threading
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from etl.logs import get_logger

try:  # JSON encoding is most of a cold page's cost: orjson does it ~10x faster.
    import orjson
except ImportError:  # pragma: no cover - the stdlib encoder gives the same documents
    orjson = None  # type: ignore[assignment]
from etl.sandbox.server.listing import (
    ApiError,
    Filter,
    Obj,
    Page,
    Params,
    ResourceIndex,
    parse_bool,
    parse_created,
    parse_int,
    parse_limit,
    parse_params,
    select,
    select_sequence,
)
from etl.sandbox.server.shapes import API_SHAPES, CHARGE_OF_INVOICE, LEGACY_API_VERSION, render

log = get_logger(__name__)

CURRENT_API_VERSION = "2026-10-28.endive"
JSON_SEPARATORS = (",", ":")


class AccountLike(Protocol):
    """What the server needs of `etl.sandbox.simulation.generator.Account`."""

    now: int
    objects: dict[str, dict[str, Obj]]
    lock: Any

    def advance(self, days: int) -> list[Obj]: ...


# --- resources ---------------------------------------------------------------------


def _get(*path: str) -> Callable[[Obj], Any]:
    def key(obj: Obj) -> Any:
        value: Any = obj
        for part in path:
            if not isinstance(value, dict):
                return None
            value = value.get(part)
        return value

    return key


def _invoice_subscription(obj: Obj) -> Any:
    parent = obj.get("parent") or {}
    details = parent.get("subscription_details") if isinstance(parent, dict) else None
    if details:
        return details.get("subscription")
    return obj.get("subscription")


def _eq(name: str, key: Callable[[Obj], Any]) -> Callable[[Any], Filter]:
    def make(value: Any) -> Filter:
        if not isinstance(value, str):
            raise ApiError(400, f"Invalid string: {value}", param=name)
        return Filter(name, key=key, value=value)

    return make


def _bool_eq(name: str, key: Callable[[Obj], Any]) -> Callable[[Any], Filter]:
    def make(value: Any) -> Filter:
        return Filter(name, key=lambda o: bool(key(o)), value=parse_bool(value, name))

    return make


SUBSCRIPTION_STATUSES = (
    "active",
    "past_due",
    "unpaid",
    "canceled",
    "incomplete",
    "incomplete_expired",
    "trialing",
    "paused",
)


def _subscription_status(value: Any) -> Filter:
    if value == "all":
        return Filter("status", predicate=lambda o: True)
    if value == "ended":
        return Filter(
            "status", predicate=lambda o: o.get("status") in ("canceled", "incomplete_expired")
        )
    if value not in SUBSCRIPTION_STATUSES:
        raise ApiError(
            400,
            f"Invalid status: must be one of {', '.join((*SUBSCRIPTION_STATUSES, 'ended', 'all'))}",
            param="status",
            code="parameter_invalid_string",
        )
    return Filter("status", key=_get("status"), value=value)


def _subscription_price(value: Any) -> Filter:
    def has_price(obj: Obj) -> bool:
        for item in (obj.get("items") or {}).get("data") or []:
            price = item.get("price")
            pid = price.get("id") if isinstance(price, dict) else price
            if pid == value:
                return True
        return False

    return Filter("price", predicate=has_price)


INVOICE_STATUSES = ("draft", "open", "paid", "uncollectible", "void")


def _invoice_status(value: Any) -> Filter:
    if value not in INVOICE_STATUSES:
        raise ApiError(
            400,
            f"Invalid status: must be one of {', '.join(INVOICE_STATUSES)}",
            param="status",
            code="parameter_invalid_string",
        )
    return Filter("status", key=_get("status"), value=value)


def _event_type(value: Any) -> Filter:
    if not isinstance(value, str):
        raise ApiError(400, "Invalid type", param="type")
    if "*" in value:
        prefix = value.split("*", 1)[0]
        return Filter("type", predicate=lambda o: str(o.get("type", "")).startswith(prefix))
    return Filter("type", key=_get("type"), value=value)


def _event_types(value: Any) -> Filter:
    if not isinstance(value, list) or not value:
        raise ApiError(400, "Invalid array", param="types")
    if len(value) > 20:
        raise ApiError(400, "You may pass at most 20 types.", param="types")
    wanted = set(value)
    return Filter("types", predicate=lambda o: o.get("type") in wanted)


def _pending(value: Any) -> Filter:
    flag = parse_bool(value, "pending")
    return Filter("pending", predicate=lambda o: (o.get("invoice") is None) == flag)


@dataclass(frozen=True)
class Collection:
    path: str  # the URL segment under /v1
    resource: str  # key of Account.objects and the error messages' name
    filters: Mapping[str, Callable[[Any], Filter]] = field(default_factory=dict)
    default_filters: tuple[Callable[[Params], Filter | None], ...] = ()


def _hide_canceled(params: Params) -> Filter | None:
    # Stripe's subscription list hides canceled subscriptions unless a status is given.
    if "status" in params:
        return None
    return Filter("status", predicate=lambda o: o.get("status") != "canceled")


COLLECTIONS: dict[str, Collection] = {
    c.path: c
    for c in (
        Collection("customers", "customer", {"email": _eq("email", _get("email"))}),
        Collection(
            "products",
            "product",
            {"active": _bool_eq("active", _get("active")), "type": _eq("type", _get("type"))},
        ),
        Collection(
            "prices",
            "price",
            {
                "active": _bool_eq("active", _get("active")),
                "currency": _eq("currency", _get("currency")),
                "product": _eq("product", _get("product")),
                "type": _eq("type", _get("type")),
            },
        ),
        Collection(
            "plans",
            "plan",
            {
                "active": _bool_eq("active", _get("active")),
                "product": _eq("product", _get("product")),
            },
        ),
        Collection("coupons", "coupon"),
        Collection(
            "subscriptions",
            "subscription",
            {
                "customer": _eq("customer", _get("customer")),
                "status": _subscription_status,
                "price": _subscription_price,
                "collection_method": _eq("collection_method", _get("collection_method")),
            },
            (_hide_canceled,),
        ),
        Collection(
            "invoices",
            "invoice",
            {
                "customer": _eq("customer", _get("customer")),
                "subscription": _eq("subscription", _invoice_subscription),
                "status": _invoice_status,
                "collection_method": _eq("collection_method", _get("collection_method")),
            },
        ),
        Collection(
            "invoiceitems",
            "invoiceitem",
            {
                "customer": _eq("customer", _get("customer")),
                "invoice": _eq("invoice", _get("invoice")),
                "pending": _pending,
            },
        ),
        Collection(
            "credit_notes",
            "credit_note",
            {
                "customer": _eq("customer", _get("customer")),
                "invoice": _eq("invoice", _get("invoice")),
            },
        ),
        Collection(
            "refunds",
            "refund",
            {
                "charge": _eq("charge", _get("charge")),
                "payment_intent": _eq("payment_intent", _get("payment_intent")),
            },
        ),
        Collection("events", "event", {"type": _event_type, "types": _event_types}),
    )
}
LIST_PARAMS = ("limit", "starting_after", "ending_before", "created", "expand")

# Fields whose string ids `expand[]` replaces with the object, and where to find it.
EXPANDABLE: dict[str, str] = {
    "customer": "customer",
    "product": "product",
    "default_price": "price",
    "price": "price",
    "plan": "plan",
    "latest_invoice": "invoice",
    "invoice": "invoice",
    "subscription": "subscription",
    "invoice_item": "invoiceitem",
    "coupon": "coupon",
    "discounts": "discount",
    "discount": "discount",
    "credit_note": "credit_note",
    "refund": "refund",
}
MAX_EXPAND_DEPTH = 4


# --- the served account --------------------------------------------------------------


class ServedAccount:
    """Indexes and rendered JSON of one account, rebuilt when the account changes.

    All methods expect the caller to hold `account.lock`.
    """

    def __init__(self, account: AccountLike, api_shapes: str) -> None:
        self.account = account
        self.shapes = api_shapes
        self._signature: tuple[Any, ...] | None = None
        self._indexes: dict[str, ResourceIndex] = {}
        # resource -> id -> JSON. Plain str -> bytes dicts are not tracked by the garbage
        # collector, so a cache of every object costs no time in full collections.
        self._json: dict[str, dict[str, bytes]] = {}
        self._charges: dict[str, Obj] | None = None

    def refresh(self) -> None:
        """Drop indexes and cached JSON if the account changed since they were built.

        The generator appends new objects and mutates existing ones when its clock
        moves, so the clock plus the object counts identify a state.
        """
        objects = self.account.objects
        signature = (self.account.now, tuple((k, len(v)) for k, v in objects.items()))
        if signature != self._signature:
            self._indexes.clear()
            self._json.clear()
            self._charges = None
            self._signature = signature

    def invalidate(self) -> None:
        self._signature = None
        self.refresh()

    def index(self, resource: str) -> ResourceIndex:
        idx = self._indexes.get(resource)
        if idx is None:
            idx = ResourceIndex.build(self.account.objects.get(resource, {}))
            self._indexes[resource] = idx
            _freeze_heap()  # the index's lists are as long-lived as the account
        return idx

    def lookup(self, resource: str, oid: str) -> Obj | None:
        if resource == CHARGE_OF_INVOICE:
            if self._charges is None:
                charges = getattr(self.account, "charges", None) or {}
                self._charges = {inv: {"id": ch} for ch, inv in charges.items()}
            return self._charges.get(oid)
        return self.account.objects.get(resource, {}).get(oid)

    def json_of(self, resource: str, obj: Obj) -> bytes:
        cache = self._json.get(resource)
        if cache is None:
            cache = self._json[resource] = {}
        oid = obj["id"]
        cached = cache.get(oid)
        if cached is None:
            if resource == "customer" and obj.get("_deleted"):
                cached = _dumps(deleted_stub(obj))
            else:
                cached = _dumps(render(obj, self.shapes, self.lookup))
            cache[oid] = cached
        return cached

    def dict_of(self, resource: str, obj: Obj) -> Obj:
        result: Obj = _loads(self.json_of(resource, obj))
        return result

    # -- expansion

    def expand(self, obj: Obj, paths: list[str]) -> Obj:
        for path in paths:
            parts = path.split(".")
            if len(parts) > MAX_EXPAND_DEPTH:
                raise ApiError(
                    400,
                    f"You cannot expand more than {MAX_EXPAND_DEPTH} levels of a property. "
                    f"Property: {path}",
                    param="expand",
                )
            self._expand(obj, parts, path)
        return obj

    def _expand(self, node: Any, parts: list[str], path: str) -> None:
        if isinstance(node, list):
            for item in node:
                self._expand(item, parts, path)
            return
        if not isinstance(node, dict):
            return
        head, rest = parts[0], parts[1:]
        if head not in node:
            raise ApiError(400, f"This property cannot be expanded ({path}).", param="expand")
        value = node[head]
        resource = EXPANDABLE.get(head)
        if isinstance(value, str):
            if resource is None:
                raise ApiError(400, f"This property cannot be expanded ({path}).", param="expand")
            node[head] = value = self._resolve(resource, value)
        elif isinstance(value, list) and resource is not None:
            node[head] = value = [
                self._resolve(resource, v) if isinstance(v, str) else v for v in value
            ]
        if rest:
            self._expand(value, rest, path)

    def _resolve(self, resource: str, oid: str) -> Any:
        found = self.lookup(resource, oid)
        if found is None:
            return oid  # not served by the sandbox (e.g. charges): stays an id
        return self.dict_of(resource, found)


def _freeze_heap() -> None:
    """Keep the account's millions of objects out of the garbage collector's full passes.

    Without this, every full collection (frequent while a client parses pages) walks
    the whole account: pauses of seconds on a 10,000-customer account. Frozen objects
    are never collected until `stop()` unfreezes them.
    """
    gc.freeze()


def deleted_stub(obj: Mapping[str, Any]) -> Obj:
    return {"id": obj["id"], "object": obj.get("object", "customer"), "deleted": True}


def _dumps(value: Any) -> bytes:
    if orjson is not None:
        return orjson.dumps(value)
    return json.dumps(value, separators=JSON_SEPARATORS, ensure_ascii=False).encode()


def _loads(data: bytes) -> Any:
    return orjson.loads(data) if orjson is not None else json.loads(data)


# --- request handling ------------------------------------------------------------------


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class RateLimiter:
    """A token bucket: `rate` requests per second, bursts of up to `rate`."""

    def __init__(self, rate: float) -> None:
        if rate <= 0:
            raise ValueError("rate limit must be positive")
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.tokens = self.capacity
        self.stamp = time.monotonic()
        self.lock = threading.Lock()

    def allow(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1.0:
                self.tokens -= 1.0
                return True
            return False


FAULT_KINDS = ("500", "503", "dropped", "slow")


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
        if not 0.0 <= fault_rate <= 1.0:
            raise ValueError("fault_rate must be between 0 and 1")
        self.account = account
        self.api_shapes = api_shapes
        self.served = ServedAccount(account, api_shapes)
        self.limiter = RateLimiter(rate_limit) if rate_limit else None
        self.fault_rate = fault_rate
        self.slow_reply_seconds = slow_reply_seconds
        self._fault_rng = random.Random(fault_seed)
        self._fault_lock = threading.Lock()
        self._stats_lock = threading.Lock()
        self._by_path: dict[str, Counter[str]] = defaultdict(Counter)
        self._faults: Counter[str] = Counter()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url: str | None = None

    # -- lifecycle

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        if self._httpd is not None:
            raise RuntimeError("the sandbox server is already running")
        handler = type("SandboxHandler", (_Handler,), {"sandbox": self})
        httpd = _HTTPServer((host, port), handler)
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
        _freeze_heap()
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
        _freeze_heap()
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
                "faults": {k: self._faults.get(k, 0) for k in FAULT_KINDS},
                "rate_limited": by_status.get("429", 0),
            }

    def _count(self, template: str, status: str) -> None:
        with self._stats_lock:
            self._by_path[template][status] += 1

    def _draw_fault(self) -> tuple[str, float] | None:
        if self.fault_rate <= 0:
            return None
        with self._fault_lock:
            if self._fault_rng.random() >= self.fault_rate:
                return None
            kind = self._fault_rng.choice(FAULT_KINDS)
            delay = self._fault_rng.uniform(*self.slow_reply_seconds)
        with self._stats_lock:
            self._faults[kind] += 1
        return kind, delay

    # -- routing

    def route(
        self, method: str, path: str, params: Params
    ) -> tuple[str, Callable[[], Obj | bytes]]:
        """(path template, handler) for a request; raises ApiError for unknown routes."""
        parts = [p for p in path.split("/") if p]
        if len(parts) >= 2 and parts[0] == "v1":
            if parts[1:] == ["test_helpers", "advance"] and method == "POST":
                return "/v1/test_helpers/advance", lambda: self._advance(params)
            collection = COLLECTIONS.get(parts[1])
            if collection is not None and method == "GET":
                if len(parts) == 2:
                    return f"/v1/{collection.path}", lambda: self._list(collection, params)
                if len(parts) == 3:
                    return f"/v1/{collection.path}/{{id}}", lambda: self._retrieve(
                        collection, parts[2], params
                    )
                if (
                    len(parts) == 4
                    and parts[3] == "lines"
                    and collection.path
                    in (
                        "invoices",
                        "credit_notes",
                    )
                ):
                    return f"/v1/{collection.path}/{{id}}/lines", lambda: self._lines(
                        collection, parts[2], params
                    )
            if collection is not None and method != "GET":
                raise ApiError(
                    400,
                    f"The Stripe sandbox is read-only: {method} {path} is not supported "
                    "(only GET, and POST /v1/test_helpers/advance).",
                )
        raise ApiError(
            404,
            f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
            "or we can help at https://support.stripe.com/.",
        )

    # -- endpoints (called with the account lock held)

    def _list(self, collection: Collection, params: Params) -> bytes:
        allowed = (*LIST_PARAMS, *collection.filters)
        _reject_unknown(params, allowed)
        limit = parse_limit(params)
        starting_after = _opt_str(params, "starting_after")
        ending_before = _opt_str(params, "ending_before")
        if starting_after is not None and ending_before is not None:
            raise ApiError(
                400,
                "You may only specify one of these parameters: ending_before, starting_after.",
                param="ending_before",
            )
        created = parse_created(params["created"]) if "created" in params else (None, None)
        expand = _expand_param(params)
        for path in expand:
            if not path.startswith("data."):
                raise ApiError(400, f"This property cannot be expanded ({path}).", param="expand")
        if "type" in params and "types" in params:
            raise ApiError(400, "You may only specify one of type and types.", param="types")
        filters = [
            make(params[name]) for name, make in collection.filters.items() if name in params
        ]
        for default in collection.default_filters:
            extra = default(params)
            if extra is not None:
                filters.append(extra)
        if collection.resource == "customer":
            filters.append(Filter("deleted", predicate=lambda o: not o.get("_deleted")))

        served = self.served
        page = select(
            served.index(collection.resource),
            limit=limit,
            starting_after=starting_after,
            ending_before=ending_before,
            created=created,
            filters=filters,
            resource_name=collection.resource,
        )
        url = f"/v1/{collection.path}"
        if expand:
            data = [served.dict_of(collection.resource, o) for o in page.objects]
            inner = [p[len("data.") :] for p in expand]
            for obj in data:
                served.expand(obj, inner)
            return _dumps({"object": "list", "data": data, "has_more": page.has_more, "url": url})
        return _list_bytes(
            [served.json_of(collection.resource, o) for o in page.objects], page.has_more, url
        )

    def _retrieve(self, collection: Collection, oid: str, params: Params) -> Obj | bytes:
        _reject_unknown(params, ("expand",))
        obj = self.served.lookup(collection.resource, oid)
        if obj is None:
            raise ApiError(
                404, f"No such {collection.resource}: '{oid}'", param="id", code="resource_missing"
            )
        expand = _expand_param(params)
        if not expand or obj.get("_deleted"):
            return self.served.json_of(collection.resource, obj)
        return self.served.expand(self.served.dict_of(collection.resource, obj), expand)

    def _lines(self, collection: Collection, oid: str, params: Params) -> bytes:
        _reject_unknown(params, ("limit", "starting_after", "ending_before", "expand"))
        obj = self.served.lookup(collection.resource, oid)
        if obj is None:
            raise ApiError(
                404, f"No such {collection.resource}: '{oid}'", param="id", code="resource_missing"
            )
        limit = parse_limit(params)
        lines = obj.get("lines") or {}
        all_lines = list(lines.get("data") or []) if isinstance(lines, dict) else list(lines)
        page: Page = select_sequence(
            all_lines,
            limit=limit,
            starting_after=_opt_str(params, "starting_after"),
            ending_before=_opt_str(params, "ending_before"),
            resource_name="line_item"
            if collection.resource == "invoice"
            else "credit_note_line_item",
        )
        data = [self._render_line(line) for line in page.objects]
        expand = _expand_param(params)
        if expand:
            # Rendered lines share nested values with the stored ones: copy before expanding.
            data = _loads(_dumps(data))
            inner = [p[len("data.") :] if p.startswith("data.") else p for p in expand]
            for item in data:
                self.served.expand(item, inner)
        return _dumps(
            {
                "object": "list",
                "data": data,
                "has_more": page.has_more,
                "url": f"/v1/{collection.path}/{oid}/lines",
            }
        )

    def _render_line(self, line: Obj) -> Obj:
        return render(line, self.api_shapes, self.served.lookup)

    def _advance(self, params: Params) -> Obj:
        _reject_unknown(params, ("days",))
        if "days" not in params:
            raise ApiError(
                400, "Missing required param: days.", param="days", code="parameter_missing"
            )
        days = parse_int(params["days"], "days")
        if not 1 <= days <= 3660:
            raise ApiError(
                400,
                "days must be between 1 and 3660.",
                param="days",
                code="parameter_invalid_integer",
            )
        return self.advance(days)

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
            return Response(200, _dumps(self.stats()), common)
        template = "unmatched"
        try:
            params = parse_params(parse_qsl(split.query, keep_blank_values=True))
            if method == "POST" and body:
                params.update(
                    parse_params(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
                )
            template, handler = self._route_or_unmatched(method, path, params)
            exempt = template == "/v1/test_helpers/advance"
            if not exempt and self.limiter is not None and not self.limiter.allow():
                raise ApiError(
                    429,
                    "Too many requests hit the API too quickly. We recommend an exponential "
                    "backoff of your requests.",
                    code="rate_limit",
                    headers={"Stripe-Rate-Limited-Reason": "global-rate"},
                )
            if not exempt:
                fault = self._draw_fault()
                if fault is not None:
                    kind, delay = fault
                    if kind == "dropped":
                        self._count(f"{method} {template}", "dropped")
                        return None
                    if kind == "slow":
                        time.sleep(delay)
                    elif kind == "500":
                        raise ApiError(
                            500,
                            "An unknown error occurred (injected by the sandbox).",
                            type="api_error",
                        )
                    else:
                        raise ApiError(
                            503,
                            "The service is temporarily unavailable (injected by the sandbox).",
                            type="api_error",
                            headers={"Stripe-Should-Retry": "true"},
                        )
            _authenticate(headers.get("authorization"))
            if handler is None:
                self.route(method, path, params)  # raises the routing error
                raise AssertionError("unreachable")
            with self.account.lock:
                self.served.refresh()
                result = handler()
            payload = result if isinstance(result, bytes) else _dumps(result)
            response = Response(200, payload, common)
        except ApiError as exc:
            response = Response(exc.status, _dumps(exc.body()), {**common, **exc.headers})
            if exc.status == 401:
                response.headers["WWW-Authenticate"] = 'Bearer realm="Stripe"'
        except Exception:
            log.error("sandbox.request_failed", request_id=request_id, trace=traceback.format_exc())
            error = ApiError(
                500, f"An unexpected error occurred (request {request_id}).", type="api_error"
            )
            response = Response(500, _dumps(error.body()), common)
        self._count(f"{method} {template}", str(response.status))
        return response

    def _route_or_unmatched(
        self, method: str, path: str, params: Params
    ) -> tuple[str, Callable[[], Obj | bytes] | None]:
        try:
            return self.route(method, path, params)
        except ApiError:
            return "unmatched", None


def _reject_unknown(params: Params, allowed: tuple[str, ...]) -> None:
    for name in params:
        if name not in allowed:
            raise ApiError(
                400, f"Received unknown parameter: {name}", param=name, code="parameter_unknown"
            )


def _opt_str(params: Params, name: str) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ApiError(400, f"Invalid string: {name}", param=name)
    return value


def _expand_param(params: Params) -> list[str]:
    value = params.get("expand")
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value]
    raise ApiError(400, "Invalid array", param="expand")


def _list_bytes(items: list[bytes], has_more: bool, url: str) -> bytes:
    return b"".join(
        (
            b'{"object":"list","data":[',
            b",".join(items),
            b'],"has_more":',
            b"true" if has_more else b"false",
            b',"url":',
            json.dumps(url).encode(),
            b"}",
        )
    )


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
    if not (key.startswith("sk_test_") or key.startswith("rk_test_")) or len(key) <= 8:
        shown = (
            key[:8] + "*" * max(0, len(key) - 12) + key[-4:] if len(key) > 12 else key[:3] + "***"
        )
        raise ApiError(401, f"Invalid API Key provided: {shown}", code="api_key_invalid")


# --- HTTP plumbing ----------------------------------------------------------------------


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-answer (timeouts, retries) is normal, not an error.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return
        log.error("sandbox.connection_failed", trace=traceback.format_exc())


class _Handler(BaseHTTPRequestHandler):
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

    def log_message(self, format: str, *args: Any) -> None:
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
