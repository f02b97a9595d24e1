"""Reading Stripe: generators of pages that only call the API, never write.

Every request goes through `StripeApi.get`: one token from the shared bucket, the
official SDK's request path of `raw_request` (the one StripeClient, its API version and
base URL), tenacity for 429s and `Stripe-Should-Retry`, and counters for the run's summary.
Objects come back as plain dicts (the JSON Stripe sent), ready for `normalize`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import orjson
import stripe

from etl.extract.pages import PagingGuard, check_list_page
from etl.extract.ratelimit import TokenBucket
from etl.extract.retry import call_with_retry
from etl.extract.types import STRIPE_TYPES, TYPE_BY_OBJECT, event_streams
from etl.logs import get_logger

log = get_logger("etl.sync")

PAGE_LIMIT = 100


@dataclass(frozen=True)
class ResourceSpec:
    """One list endpoint of Stripe that the sync reads."""

    name: str
    path: str
    params: Mapping[str, Any] = field(default_factory=dict)
    # Large histories are split into `created` slices fetched concurrently.
    sliced: bool = False


RESOURCES: tuple[ResourceSpec, ...] = tuple(
    ResourceSpec(t.resource, t.path, t.list_params, sliced=t.sliced) for t in STRIPE_TYPES
)
RESOURCE_BY_NAME = {r.name: r for r in RESOURCES}

# Event types per stream (each within Stripe's 20 types per request).
EVENT_STREAMS: dict[str, tuple[str, ...]] = event_streams()


class StripeApi:
    """The sync's door to Stripe: rate-limited, retried, counted. Thread-safe."""

    def __init__(self, client: stripe.StripeClient, bucket: TokenBucket) -> None:
        self.client = client
        self.bucket = bucket
        self._lock = threading.Lock()
        self.requests = 0
        self.retries = 0
        self.rate_limited = 0

    def _on_retry(self, exc: BaseException, wait: float) -> None:
        with self._lock:
            self.retries += 1
            if isinstance(exc, stripe.RateLimitError):
                self.rate_limited += 1
        if isinstance(exc, stripe.RateLimitError):
            self.bucket.slow_down(min(wait, 1.0))
        log.debug("stripe_retry", error=type(exc).__name__, wait_s=round(wait, 3))

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return self.parse(self.get_body(path, params))

    def get_body(self, path: str, params: Mapping[str, Any] | None = None) -> bytes:
        """The 2xx body as received, unparsed: a full load parses it in another process.
        Errors (non-2xx) are raised here, as the SDK raises them, after the retries."""
        params = dict(params or {})

        def once() -> bytes:
            self.bucket.acquire()
            with self._lock:
                self.requests += 1
            return self._request_body(path, params)

        return call_with_retry(once, on_retry=self._on_retry)

    def parse(self, body: bytes) -> dict[str, Any]:
        """A 2xx body as a dict: orjson, or the SDK's own reading of anything orjson
        refuses (which raises the SDK's error for a body that is not JSON)."""
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
        else:
            if isinstance(parsed, dict):
                return parsed
        # The SDK's own reading of a body (and its errors): no public API takes bytes.
        requestor = self.client._requestor  # noqa: SLF001
        data = requestor._interpret_response(body, 200, {}, "V1").data  # noqa: SLF001
        return cast(dict[str, Any], data)

    def _request_body(self, path: str, params: dict[str, Any]) -> bytes:
        """`raw_request`, minus its JSON parsing into OrderedDicts (a Python hook per
        object: the costliest step of a whole sync). The same steps of the official SDK,
        its request and error handling; a 2xx body is returned as bytes (parsed later by
        orjson), anything else goes through the SDK's own interpretation, which raises."""
        requestor = getattr(self.client, "_requestor", None)
        if requestor is None or not hasattr(requestor, "_interpret_response"):
            data = self.client.raw_request("get", path, **params).data
            return orjson.dumps(data)
        rbody, rcode, rheaders = requestor.request_raw(
            "get",
            path,
            params=params,
            options={},
            base_address="api",
            api_mode="V1",
            usage=["raw_request"],
        )
        if 200 <= rcode < 300:
            return rbody if isinstance(rbody, bytes) else str(rbody).encode()
        # The SDK's error for the answer (the getattr above falls back if it goes away).
        requestor._interpret_response(rbody, rcode, rheaders, "V1")  # noqa: SLF001
        raise stripe.APIError(f"unexpected HTTP {rcode} from Stripe", rbody, rcode)


@dataclass
class Page:
    objects: list[dict[str, Any]]
    has_more: bool

    @property
    def last_id(self) -> str | None:
        return self.objects[-1]["id"] if self.objects else None


def list_query(
    params: Mapping[str, Any] | None, created: Mapping[str, int] | None
) -> dict[str, Any]:
    """The query of every page of a list: its parameters, `limit=100`, the created slice."""
    base = {**(params or {}), "limit": PAGE_LIMIT}
    if created:
        base["created"] = dict(created)
    return base


def list_page_body(api: StripeApi, path: str, base: dict[str, Any], cursor: str | None) -> bytes:
    """One page of a list, after `cursor`. Stripe look-alikes (localstripe) refuse some
    expansions: then the page is asked again without, and so are the next (`base` loses
    its `expand`)."""
    while True:
        query = dict(base)
        if cursor is not None:
            query["starting_after"] = cursor
        try:
            return api.get_body(path, query)
        except stripe.InvalidRequestError as exc:
            if "expand" not in query or "expand" not in str(exc).lower():
                raise
            log.warning("expand_unsupported", path=path, expand=query["expand"])
            base.pop("expand", None)


def fetch_pages(
    api: StripeApi,
    path: str,
    params: Mapping[str, Any] | None = None,
    *,
    starting_after: str | None = None,
    created: Mapping[str, int] | None = None,
    complete_invoices: bool = False,
) -> Iterator[Page]:
    """Pages of a list endpoint, newest first, from `starting_after` on."""
    base = list_query(params, created)
    cursor = starting_after
    guard = PagingGuard(path, starting_after)
    while True:
        body = check_list_page(path, api.parse(list_page_body(api, path, base, cursor)))
        objects = list(body["data"])
        page = Page(objects, bool(body.get("has_more")))
        guard.advance(page.last_id, page.has_more)
        if complete_invoices:
            for inv in objects:
                complete_invoice_lines(api, inv)
        yield page
        if not page.has_more:
            return
        cursor = page.last_id


def complete_invoice_lines(api: StripeApi, invoice: dict[str, Any]) -> None:
    """Page the lines beyond the embedded first page into the invoice (only when has_more)."""
    lines = invoice.get("lines")
    if not isinstance(lines, dict) or not lines.get("has_more"):
        return
    path = f"/v1/invoices/{invoice['id']}/lines"
    data = list(check_list_page(f"{path} (embedded in the invoice)", lines)["data"])
    # (an old payload's line: its own id is `unique_id`, `id` may be shared)
    cursor = (data[-1].get("unique_id") or data[-1]["id"]) if data else None
    guard = PagingGuard(path, cursor)
    while True:
        query: dict[str, Any] = {"limit": PAGE_LIMIT}
        if cursor is not None:
            query["starting_after"] = cursor
        body = check_list_page(path, api.get(path, query))
        more = list(body["data"])
        data.extend(more)
        has_more = bool(body.get("has_more"))
        cursor = more[-1]["id"] if more else None
        guard.advance(cursor, has_more)
        if not has_more:
            break
    invoice["lines"] = {**lines, "data": data, "has_more": False}


def retrieve(api: StripeApi, object_type: str, oid: str) -> dict[str, Any]:
    """One object by id, with the expansions its type needs (an invoice with all its lines)."""
    t = TYPE_BY_OBJECT[object_type]
    params: dict[str, Any] = {"expand": list(t.expand)} if t.expand else {}
    obj = api.get(t.retrieve_path.format(id=oid), params)
    if object_type == "invoice":
        complete_invoice_lines(api, obj)
    return obj


def newest_event(api: StripeApi) -> dict[str, Any] | None:
    data = check_list_page("/v1/events", api.get("/v1/events", {"limit": 1}))["data"]
    return dict(data[0]) if data else None


def fetch_events_after(
    api: StripeApi, cursor: str | None, types: tuple[str, ...]
) -> Iterator[list[dict[str, Any]]]:
    """Pages of events newer than `cursor`, each page oldest first, pages in time order.

    Without a cursor, every event Stripe still has (its last 30 days), oldest first.
    """
    if cursor is None:
        # Walk back to the oldest event first; an account with no marker is rare (a
        # full load records one), so this costs only as many pages as there are events.
        pages = [page.objects for page in fetch_pages(api, "/v1/events", {"types": list(types)})]
        for objs in reversed(pages):
            if objs:  # an account without events lists one empty page
                yield list(reversed(objs))
        return
    guard = PagingGuard("/v1/events", cursor)
    while True:
        query = {"types": list(types), "limit": PAGE_LIMIT, "ending_before": cursor}
        body = check_list_page("/v1/events", api.get("/v1/events", query))
        data = list(body["data"])
        has_more = bool(body.get("has_more"))
        # Paging forward moves from the newest event of the page (its first).
        guard.advance(data[0]["id"] if data else None, has_more)
        if not data:
            return
        yield list(reversed(data))
        if not has_more:
            return
        cursor = data[0]["id"]


def oldest_created(api: StripeApi, path: str, params: Mapping[str, Any], lo: int, hi: int) -> int:
    """The creation time (to within 1/64 of the range) of the oldest object of a list.

    A binary search with `limit=1` probes: a handful of requests instead of paging.
    """
    probe = {k: v for k, v in params.items() if k != "expand"}
    precision = max(3600, (hi - lo) // 64)
    while hi - lo > precision:
        mid = (lo + hi) // 2
        body = check_list_page(path, api.get(path, {**probe, "limit": 1, "created": {"lt": mid}}))
        if body["data"]:
            hi = mid
        else:
            lo = mid
    return lo
