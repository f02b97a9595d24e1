"""The served collections: URL segment, resource, and the list filters each accepts.

One table (`COLLECTIONS`) says what `GET /v1/<collection>` lists and which query
parameters filter it, with Stripe's validation messages; `EXPANDABLE` says which
fields `expand[]` may replace with the object they name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from etl.sandbox.server.listing import ApiError, Filter, Obj, Params, parse_bool


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
        return Filter("status", predicate=lambda _o: True)
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
