"""Stripe objects: raw, exactly as received, and normalized.

The normalized tables also hold what the API creates (customers, plans) and the
invoices imported from outside Stripe, which share them so that every later stage reads
one model.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    Index,
    Integer,
    Numeric,
    PrimaryKeyConstraint,
    String,
    UniqueConstraint,
)
from sqlmodel import SQLModel

from etl.db.models.columns import CUR, ID, MONEY, TEXT, TS, column

# ---------------------------------------------------------------- raw layer


class RawObject(SQLModel, table=True):
    __tablename__ = "raw_objects"
    __table_args__ = (
        UniqueConstraint("object_type", "stripe_id", "content_hash", name="uq_raw_version"),
        Index("ix_raw_objects_type_id", "object_type", "stripe_id"),
        {"comment": "Every Stripe object as received: one row per distinct version, with lineage."},
    )
    id: int | None = column("surrogate key, assigned by the database", Integer, pk=True)
    object_type: str = column("Stripe object type: customer, invoice, price, plan, …", ID)
    stripe_id: str = column("the object's Stripe id", ID)
    api_version: str | None = column("Stripe API version the JSON is shaped by", ID, nullable=True)
    created: datetime | None = column("the object's `created` time", TS, nullable=True)
    fetched_at: datetime = column("when this version was last received", TS)
    sync_run_id: int | None = column(
        "sync_runs.id of the run that fetched it", Integer, nullable=True
    )
    source: str = column("how it arrived: list, retrieve, event", String(16), default="list")
    deleted: bool = column("the object was deleted in Stripe", Boolean, default=False)
    malformed: bool = column(
        "the object could not be normalized (see sync_runs)", Boolean, default=False
    )
    is_current: bool = column("this is the latest version of the object", Boolean, default=True)
    content_hash: str = column(
        "SHA-256 of the JSON; identical versions are stored once", String(64)
    )
    data: str = column("the object's JSON as received", TEXT)


# ---------------------------------------------------------------- normalized


class Customer(SQLModel, table=True):
    __tablename__ = "customers"
    __table_args__ = (
        Index("ix_customers_extra_id", "extra_id"),
        Index("ix_customers_country", "country"),
        {"comment": "Customers from Stripe and customers created through the API."},
    )
    id: int | None = column("integer customer id (the API's `id`)", Integer, pk=True)
    stripe_id: str | None = column(
        "Stripe customer id; NULL if created through the API", ID, unique=True, nullable=True
    )
    extra_id: str | None = column(
        "internal id from Stripe metadata or set through the API", ID, nullable=True
    )
    email: str | None = column("email as given", String(320), nullable=True)
    email_key: str | None = column(
        "lower-cased email, unique; NULL when absent or when an earlier Stripe customer has it",
        String(320),
        unique=True,
        nullable=True,
    )
    name: str | None = column("customer name", TEXT, nullable=True)
    currency: str | None = column("customer currency (usd, eur, …)", CUR, nullable=True)
    country: str | None = column(
        "ISO 3166-1 alpha-2 country from the address, else the default card",
        String(2),
        nullable=True,
    )
    state: str | None = column("US state code; NULL outside the US", String(64), nullable=True)
    metadata_json: str | None = column("Stripe metadata as JSON text", TEXT, nullable=True)
    source: str = column("stripe or api", String(16), default="stripe")
    deleted: bool = column("deleted in Stripe", Boolean, default=False)
    created: datetime | None = column("creation time", TS, nullable=True)
    updated_at: datetime = column("last time this row changed", TS)


class Product(SQLModel, table=True):
    __tablename__ = "products"
    __table_args__ = {"comment": "Stripe products."}
    id: str = column("Stripe product id", ID, pk=True)
    name: str | None = column("product name", TEXT, nullable=True)
    active: bool = column("available for new purchases", Boolean, default=True)
    metadata_json: str | None = column("metadata as JSON text", TEXT, nullable=True)
    deleted: bool = column("deleted in Stripe", Boolean, default=False)
    created: datetime | None = column("creation time", TS, nullable=True)
    updated_at: datetime = column("last time this row changed", TS)


class Plan(SQLModel, table=True):
    __tablename__ = "plans"
    __table_args__ = {
        "comment": "Stripe prices, legacy Stripe plans, and plans created through the API."
    }
    id: str = column("price id, plan id, or the API plan id", ID, pk=True)
    source: str = column("stripe_price, stripe_plan or api", String(16))
    product_id: str | None = column("Stripe product id", ID, nullable=True, index=True)
    name: str | None = column(
        "display name: nickname, else product name, else id", TEXT, nullable=True
    )
    nickname: str | None = column("Stripe's nickname of the price or plan", TEXT, nullable=True)
    amount: int | None = column(
        "unit amount in cents; NULL for tiered prices", MONEY, nullable=True
    )
    currency: str = column("currency", CUR)
    type: str = column("recurring or one_time", String(16), default="recurring")
    interval: str | None = column(
        "day, week, month or year; NULL for one-time prices", String(8), nullable=True
    )
    interval_count: int = column("number of intervals per billing period", Integer, default=1)
    usage_type: str = column("licensed or metered", String(16), default="licensed")
    tax_behavior: str | None = column(
        "exclusive, inclusive or unspecified", String(16), nullable=True
    )
    active: bool = column("available for new subscriptions", Boolean, default=True)
    metadata_json: str | None = column("metadata as JSON text", TEXT, nullable=True)
    deleted: bool = column("deleted in Stripe", Boolean, default=False)
    created: datetime | None = column("creation time", TS, nullable=True)
    updated_at: datetime = column("last time this row changed", TS)


class Coupon(SQLModel, table=True):
    __tablename__ = "coupons"
    __table_args__ = {"comment": "Stripe coupons."}
    id: str = column("coupon id", ID, pk=True)
    name: str | None = column("coupon name", TEXT, nullable=True)
    percent_off: Decimal | None = column("percentage off, e.g. 25.5", Numeric(7, 4), nullable=True)
    amount_off: int | None = column("amount off in cents", MONEY, nullable=True)
    currency: str | None = column("currency of amount_off", CUR, nullable=True)
    duration: str = column("once, repeating or forever", String(16))
    duration_in_months: int | None = column("months, for repeating coupons", Integer, nullable=True)
    valid: bool = column("can still be applied", Boolean, default=True)
    deleted: bool = column("deleted in Stripe", Boolean, default=False)
    created: datetime | None = column("creation time", TS, nullable=True)
    updated_at: datetime = column("last time this row changed", TS)


class Subscription(SQLModel, table=True):
    __tablename__ = "subscriptions"
    __table_args__ = {"comment": "Stripe subscriptions (all statuses)."}
    id: str = column("Stripe subscription id", ID, pk=True)
    customer_id: int | None = column(
        "customers.id", Integer, fk="customers.id", nullable=True, index=True
    )
    stripe_customer_id: str | None = column("Stripe customer id", ID, nullable=True)
    status: str = column(
        "trialing, active, past_due, canceled, unpaid, incomplete, …", String(32), index=True
    )
    currency: str | None = column("currency", CUR, nullable=True)
    start_date: datetime | None = column("when the subscription started", TS, nullable=True)
    current_period_start: datetime | None = column("start of the current period", TS, nullable=True)
    current_period_end: datetime | None = column("end of the current period", TS, nullable=True)
    trial_start: datetime | None = column("trial start", TS, nullable=True)
    trial_end: datetime | None = column("trial end", TS, nullable=True)
    cancel_at_period_end: bool = column("cancels when the period ends", Boolean, default=False)
    cancel_at: datetime | None = column("scheduled cancellation time", TS, nullable=True)
    canceled_at: datetime | None = column("when cancellation was requested", TS, nullable=True)
    ended_at: datetime | None = column("when the subscription ended", TS, nullable=True)
    coupon_id: str | None = column(
        "coupon of the subscription's discount, if any", ID, nullable=True
    )
    metadata_json: str | None = column("metadata as JSON text", TEXT, nullable=True)
    created: datetime | None = column("creation time", TS, nullable=True)
    updated_at: datetime = column("last time this row changed", TS)


class SubscriptionItem(SQLModel, table=True):
    __tablename__ = "subscription_items"
    __table_args__ = {"comment": "Items (price × quantity) of Stripe subscriptions."}
    id: str = column("subscription item id", ID, pk=True)
    subscription_id: str = column(
        "subscriptions.id", ID, fk="subscriptions.id", ondelete="CASCADE", index=True
    )
    plan_id: str | None = column("price or plan id (plans.id)", ID, nullable=True)
    quantity: int = column("quantity (seats)", Integer, default=1)
    current_period_start: datetime | None = column(
        "start of the item's current period", TS, nullable=True
    )
    current_period_end: datetime | None = column(
        "end of the item's current period", TS, nullable=True
    )
    created: datetime | None = column("creation time", TS, nullable=True)
    updated_at: datetime = column("last time this row changed", TS)


class Discount(SQLModel, table=True):
    __tablename__ = "discounts"
    __table_args__ = {"comment": "Discounts applied to customers, subscriptions or invoices."}
    id: str = column("discount id", ID, pk=True)
    coupon_id: str | None = column("coupons.id", ID, nullable=True)
    customer_id: int | None = column("customers.id", Integer, nullable=True, index=True)
    subscription_id: str | None = column("subscription it applies to", ID, nullable=True)
    invoice_id: str | None = column("invoice it applies to", ID, nullable=True)
    starts_at: datetime | None = column("start of the discount", TS, nullable=True)
    ends_at: datetime | None = column("end of the discount (NULL: forever)", TS, nullable=True)
    updated_at: datetime = column("last time this row changed", TS)


class Invoice(SQLModel, table=True):
    __tablename__ = "invoices"
    __table_args__ = (
        Index("ix_invoices_customer", "customer_id"),
        Index("ix_invoices_status", "status"),
        Index("ix_invoices_source_created", "source", "created"),
        # GET /v2/invoices pages imported invoices by id (migration 0002).
        Index("ix_invoices_source_id", "source", "id"),
        {"comment": "Invoices from Stripe (source=stripe) and imported ones (source=manual)."},
    )
    id: str = column("Stripe invoice id, or the imported invoice's id", ID, pk=True)
    source: str = column("stripe or manual", String(16), default="stripe")
    customer_id: int | None = column("customers.id", Integer, fk="customers.id", nullable=True)
    stripe_customer_id: str | None = column("Stripe customer id", ID, nullable=True)
    subscription_id: str | None = column(
        "Stripe subscription id, or the imported subscription_id", ID, nullable=True, index=True
    )
    status: str = column("draft, open, paid, void or uncollectible", String(16))
    billing_reason: str | None = column(
        "subscription_create, subscription_cycle, manual, …", String(32), nullable=True
    )
    currency: str = column("currency", CUR)
    subtotal: int = column("sum of line amounts before discounts, tax excluded", MONEY, default=0)
    discount: int = column("total discount amount", MONEY, default=0)
    tax: int = column("total tax amount", MONEY, default=0)
    total: int = column("subtotal − discount + exclusive tax", MONEY, default=0)
    amount_due: int = column("amount due", MONEY, default=0)
    amount_paid: int = column("amount paid", MONEY, default=0)
    plan_id: str | None = column(
        "imported invoices: the plan (NULL: one-time revenue)", ID, nullable=True
    )
    quantity: int | None = column("imported invoices: quantity", Integer, nullable=True)
    description: str | None = column("free text", TEXT, nullable=True)
    number: str | None = column("Stripe invoice number", ID, nullable=True)
    created: datetime | None = column(
        "invoice date (`date` for imported invoices)", TS, nullable=True
    )
    due_date: datetime | None = column("due date", TS, nullable=True)
    paid_at: datetime | None = column("when it was paid (`date_paid`)", TS, nullable=True)
    period_start: datetime | None = column("service period start", TS, nullable=True)
    period_end: datetime | None = column("service period end", TS, nullable=True)
    payment_intent_id: str | None = column(
        "payment intent that paid it (links refunds to the invoice)", ID, nullable=True, index=True
    )
    lines_complete: bool = column(
        "all lines are stored (beyond the embedded first page)", Boolean, default=True
    )
    updated_at: datetime = column("last time this row changed", TS)
    # (last: migration 0005 added it to stored tables, at their end)
    finalized_at: datetime | None = column(
        "when it was finalized; an automatically charged invoice falls due then",
        TS,
        nullable=True,
    )


class InvoiceLine(SQLModel, table=True):
    __tablename__ = "invoice_lines"
    # Keyed by invoice and line: payloads of API versions before 2019-12-03 give lines
    # ids (`sli_…`, `ii_…`) that several invoices share.
    __table_args__ = (
        PrimaryKeyConstraint("invoice_id", "id", name="pk_invoice_lines"),
        {"comment": "Lines of Stripe and imported invoices."},
    )
    id: str = column("Stripe line id, or `<invoice id>:1` for imported invoices", ID, pk=True)
    invoice_id: str = column(
        "invoices.id", ID, pk=True, fk="invoices.id", ondelete="CASCADE", index=True
    )
    position: int = column("order of the line within its invoice", Integer, default=0)
    customer_id: int | None = column("customers.id", Integer, nullable=True, index=True)
    subscription_id: str | None = column("subscription the line bills", ID, nullable=True)
    subscription_item_id: str | None = column("subscription item the line bills", ID, nullable=True)
    invoice_item_id: str | None = column("invoice item the line comes from", ID, nullable=True)
    plan_id: str | None = column("price or plan id (plans.id)", ID, nullable=True)
    line_type: str = column("subscription or invoiceitem, as Stripe says", String(16))
    proration: bool = column("a proration line", Boolean, default=False)
    currency: str = column("currency", CUR)
    amount: int = column(
        "line amount before discounts (tax excluded unless the price is tax-inclusive)", MONEY
    )
    discount_amount: int = column("sum of the line's discount amounts", MONEY, default=0)
    tax_amount: int = column("tax on the line (exclusive and inclusive)", MONEY, default=0)
    inclusive_tax_amount: int = column(
        "the part of tax_amount included in amount", MONEY, default=0
    )
    quantity: int | None = column("quantity", Integer, nullable=True)
    period_start: datetime | None = column("service period start", TS, nullable=True)
    period_end: datetime | None = column("service period end", TS, nullable=True)
    description: str | None = column("line description", TEXT, nullable=True)
    updated_at: datetime = column("last time this row changed", TS)


class InvoiceItem(SQLModel, table=True):
    __tablename__ = "invoice_items"
    __table_args__ = {"comment": "Stripe invoice items (one-off charges and prorations)."}
    id: str = column("invoice item id", ID, pk=True)
    customer_id: int | None = column("customers.id", Integer, nullable=True, index=True)
    invoice_id: str | None = column("invoice it was billed on", ID, nullable=True)
    subscription_id: str | None = column("subscription it belongs to", ID, nullable=True)
    plan_id: str | None = column("price id", ID, nullable=True)
    amount: int = column("amount", MONEY)
    currency: str = column("currency", CUR)
    quantity: int | None = column("quantity", Integer, nullable=True)
    proration: bool = column("a proration", Boolean, default=False)
    description: str | None = column("description", TEXT, nullable=True)
    period_start: datetime | None = column("period start", TS, nullable=True)
    period_end: datetime | None = column("period end", TS, nullable=True)
    deleted: bool = column("deleted in Stripe", Boolean, default=False)
    created: datetime | None = column("creation time (`date`)", TS, nullable=True)
    updated_at: datetime = column("last time this row changed", TS)


class CreditNote(SQLModel, table=True):
    __tablename__ = "credit_notes"
    __table_args__ = {"comment": "Stripe credit notes; they reduce total contract value."}
    id: str = column("credit note id", ID, pk=True)
    invoice_id: str | None = column("invoice credited", ID, nullable=True, index=True)
    customer_id: int | None = column("customers.id", Integer, nullable=True, index=True)
    amount: int = column("total credited, tax included", MONEY)
    tax_amount: int = column("tax part of amount", MONEY, default=0)
    currency: str = column("currency", CUR)
    status: str = column("issued or void", String(16))
    reason: str | None = column("reason given", String(64), nullable=True)
    created: datetime | None = column("creation time", TS, nullable=True)
    updated_at: datetime = column("last time this row changed", TS)


class Refund(SQLModel, table=True):
    __tablename__ = "refunds"
    __table_args__ = {"comment": "Stripe refunds; succeeded ones reduce total contract value."}
    id: str = column("refund id", ID, pk=True)
    charge_id: str | None = column("charge refunded", ID, nullable=True)
    payment_intent_id: str | None = column("payment intent refunded", ID, nullable=True)
    invoice_id: str | None = column(
        "invoice whose payment was refunded, when known", ID, nullable=True, index=True
    )
    customer_id: int | None = column("customers.id, when known", Integer, nullable=True, index=True)
    amount: int = column("amount refunded", MONEY)
    currency: str = column("currency", CUR)
    status: str = column("pending, succeeded, failed or canceled", String(16))
    reason: str | None = column("reason given", String(64), nullable=True)
    created: datetime | None = column("creation time", TS, nullable=True)
    updated_at: datetime = column("last time this row changed", TS)
