"""The Stripe object types the sync reads, in one place: each one's list endpoint, the
expansions it needs, its events, and the tables its rows go to.

Fetching (list and retrieve paths, event streams), preparing (one normalizer per type)
and the nightly reconciliation all derive their lists from `STRIPE_TYPES`, so that a
type is added or changed here once. (The sandbox simulates Stripe and keeps its own
list: it must not import the client side.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

CATALOGUE_STREAM = "events:catalogue"
BILLING_STREAM = "events:billing"
# Stripe accepts at most this many types in one events request (`types[]`).
MAX_EVENT_TYPES = 20


@dataclass(frozen=True)
class StripeType:
    """One object type: `object` as Stripe names it, `resource` as its endpoint does."""

    object: str
    resource: str
    # The normalized tables its rows go to, its own first.
    tables: tuple[str, ...]
    # Its events (full names); they are read from `stream`.
    events: tuple[str, ...]
    stream: str
    # The column of `tables[0]` that holds its Stripe id.
    stripe_id_column: str = "id"
    # Customers and the catalogue: what billing objects refer to; their rows are kept
    # and flagged `deleted` when Stripe deletes them.
    catalogue: bool = False
    # Large histories are listed in `created` slices fetched concurrently.
    sliced: bool = False
    # List filters besides paging (e.g. every status, not only active ones).
    list_filters: Mapping[str, Any] = field(default_factory=dict)
    # Fields expanded in lists (as `data.<field>`) and in retrieves.
    expand: tuple[str, ...] = ()

    @property
    def path(self) -> str:
        return f"/v1/{self.resource}"

    @property
    def retrieve_path(self) -> str:
        return f"/v1/{self.resource}/{{id}}"

    @property
    def list_params(self) -> dict[str, Any]:
        expand = {"expand": [f"data.{e}" for e in self.expand]} if self.expand else {}
        return {**self.list_filters, **expand}


def _crud(name: str) -> tuple[str, ...]:
    return (f"{name}.created", f"{name}.updated", f"{name}.deleted")


# Dependency order: customers and the catalogue before what refers to them (the order
# a full load plans its units in).
STRIPE_TYPES: tuple[StripeType, ...] = (
    StripeType(
        "customer",
        "customers",
        ("customers",),
        _crud("customer"),
        CATALOGUE_STREAM,
        stripe_id_column="stripe_id",
        catalogue=True,
        sliced=True,
    ),
    StripeType(
        "product", "products", ("products",), _crud("product"), CATALOGUE_STREAM, catalogue=True
    ),
    StripeType("price", "prices", ("plans",), _crud("price"), CATALOGUE_STREAM, catalogue=True),
    StripeType("plan", "plans", ("plans",), _crud("plan"), CATALOGUE_STREAM, catalogue=True),
    StripeType(
        "coupon", "coupons", ("coupons",), _crud("coupon"), CATALOGUE_STREAM, catalogue=True
    ),
    StripeType(
        "subscription",
        "subscriptions",
        ("subscriptions", "subscription_items", "discounts"),
        (
            *_crud("customer.subscription"),
            "customer.subscription.paused",
            "customer.subscription.resumed",
        ),
        CATALOGUE_STREAM,
        sliced=True,
        list_filters={"status": "all"},
        expand=("discounts",),
    ),
    StripeType(
        "invoice",
        "invoices",
        ("invoices", "invoice_lines", "discounts"),
        (
            *_crud("invoice"),
            "invoice.finalized",
            "invoice.paid",
            "invoice.voided",
            "invoice.marked_uncollectible",
            "invoice.payment_succeeded",
            "invoice.payment_failed",
        ),
        BILLING_STREAM,
        sliced=True,
        expand=("discounts",),
    ),
    StripeType(
        "invoiceitem",
        "invoiceitems",
        ("invoice_items",),
        ("invoiceitem.created", "invoiceitem.deleted"),
        BILLING_STREAM,
        sliced=True,
    ),
    StripeType(
        "credit_note",
        "credit_notes",
        ("credit_notes",),
        ("credit_note.created", "credit_note.updated", "credit_note.voided"),
        BILLING_STREAM,
    ),
    StripeType(
        "refund", "refunds", ("refunds",), ("refund.created", "refund.updated"), BILLING_STREAM
    ),
)

TYPE_BY_OBJECT: dict[str, StripeType] = {t.object: t for t in STRIPE_TYPES}
OBJECT_TYPES: tuple[str, ...] = tuple(TYPE_BY_OBJECT)


def event_streams() -> dict[str, tuple[str, ...]]:
    """Event types per stream, in type order."""
    streams: dict[str, tuple[str, ...]] = {}
    for t in STRIPE_TYPES:
        streams[t.stream] = (*streams.get(t.stream, ()), *t.events)
    return streams


def normalized_tables() -> tuple[str, ...]:
    """Every table the types' rows go to, each once, in type order."""
    return tuple(dict.fromkeys(name for t in STRIPE_TYPES for name in t.tables))


def carries_discount_ids(object_type: str) -> bool:
    """Whether objects of this type may name their discounts by id alone (event payloads
    are not expanded), which a re-fetch with the expansion resolves."""
    t = TYPE_BY_OBJECT.get(object_type)
    return t is not None and "discounts" in t.expand
