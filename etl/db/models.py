"""The whole data model, as SQLModel tables.

Layers, in the order data flows through them:

  raw_objects                      Stripe objects exactly as received, with lineage
  customers … refunds              normalized Stripe objects (and API-created customers,
                                   plans and imported invoices, which share the tables)
  revenue_lines                    one row per counted-or-not invoice line, Stripe and manual
  customer_plan_mrr … mrr_by_plan  monthly snapshots computed by the metrics engine
  sync_* / locks / job_runs        bookkeeping of the pipeline itself
  api_keys, fx_rates               inputs managed by commands

Conventions: money is an integer in the currency's smallest unit (BIGINT); timestamps
are naive UTC; months are the DATE of their first day in the reporting time zone;
currencies are lower-case ISO codes; JSON is stored as text. Every column carries a
comment because `schema.sql`, generated from these classes, is the users' reference.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

metadata = SQLModel.metadata


def _f(
    comment: str,
    sa_type: Any = None,
    *,
    pk: bool = False,
    fk: str | None = None,
    ondelete: str | None = None,
    index: bool = False,
    unique: bool = False,
    nullable: bool | None = None,
    default: Any = None,
    autoincrement: bool | str = "auto",
    server_default: str | None = None,
) -> Any:
    """A column with its user-facing comment (kept short: it goes into schema.sql)."""
    kwargs: dict[str, Any] = {"comment": comment}
    if server_default is not None:
        kwargs["server_default"] = text(server_default)
    if pk:
        kwargs["autoincrement"] = autoincrement
    args: list[Any] = []
    if fk:
        args.append(ForeignKey(fk, ondelete=ondelete))
    if sa_type is None:
        raise TypeError("every column names its SQL type")
    col = Column(
        sa_type,
        *args,
        primary_key=pk,
        nullable=False if nullable is None else nullable,
        index=index,
        unique=unique,
        **kwargs,
    )
    return Field(default=default, sa_column=col)


MONEY = BigInteger
TEXT = Text
ID = String(255)
CUR = String(3)
TS = DateTime(timezone=False)
RATE = Numeric(20, 10)


# ---------------------------------------------------------------- raw layer


class RawObject(SQLModel, table=True):
    __tablename__ = "raw_objects"
    __table_args__ = (
        UniqueConstraint("object_type", "stripe_id", "content_hash", name="uq_raw_version"),
        Index("ix_raw_objects_type_id", "object_type", "stripe_id"),
        {"comment": "Every Stripe object as received: one row per distinct version, with lineage."},
    )
    id: int | None = _f("surrogate key, assigned by the database", Integer, pk=True)
    object_type: str = _f("Stripe object type: customer, invoice, price, plan, …", ID)
    stripe_id: str = _f("the object's Stripe id", ID)
    api_version: str | None = _f("Stripe API version the JSON is shaped by", ID, nullable=True)
    created: datetime | None = _f("the object's `created` time", TS, nullable=True)
    fetched_at: datetime = _f("when this version was last received", TS)
    sync_run_id: int | None = _f("sync_runs.id of the run that fetched it", Integer, nullable=True)
    source: str = _f("how it arrived: list, retrieve, event", String(16), default="list")
    deleted: bool = _f("the object was deleted in Stripe", Boolean, default=False)
    malformed: bool = _f(
        "the object could not be normalized (see sync_runs)", Boolean, default=False
    )
    is_current: bool = _f("this is the latest version of the object", Boolean, default=True)
    content_hash: str = _f("SHA-256 of the JSON; identical versions are stored once", String(64))
    data: str = _f("the object's JSON as received", TEXT)


# ---------------------------------------------------------------- normalized


class Customer(SQLModel, table=True):
    __tablename__ = "customers"
    __table_args__ = (
        Index("ix_customers_extra_id", "extra_id"),
        Index("ix_customers_country", "country"),
        {"comment": "Customers from Stripe and customers created through the API."},
    )
    id: int | None = _f("integer customer id (the API's `id`)", Integer, pk=True)
    stripe_id: str | None = _f(
        "Stripe customer id; NULL if created through the API", ID, unique=True, nullable=True
    )
    extra_id: str | None = _f(
        "internal id from Stripe metadata or set through the API", ID, nullable=True
    )
    email: str | None = _f("email as given", String(320), nullable=True)
    email_key: str | None = _f(
        "lower-cased email, unique; NULL when absent or when an earlier Stripe customer has it",
        String(320),
        unique=True,
        nullable=True,
    )
    name: str | None = _f("customer name", TEXT, nullable=True)
    currency: str | None = _f("customer currency (usd, eur, …)", CUR, nullable=True)
    country: str | None = _f(
        "ISO 3166-1 alpha-2 country from the address, else the default card",
        String(2),
        nullable=True,
    )
    state: str | None = _f("US state code; NULL outside the US", String(64), nullable=True)
    metadata_json: str | None = _f("Stripe metadata as JSON text", TEXT, nullable=True)
    source: str = _f("stripe or api", String(16), default="stripe")
    deleted: bool = _f("deleted in Stripe", Boolean, default=False)
    created: datetime | None = _f("creation time", TS, nullable=True)
    updated_at: datetime = _f("last time this row changed", TS)


class Product(SQLModel, table=True):
    __tablename__ = "products"
    __table_args__ = {"comment": "Stripe products."}
    id: str = _f("Stripe product id", ID, pk=True)
    name: str | None = _f("product name", TEXT, nullable=True)
    active: bool = _f("available for new purchases", Boolean, default=True)
    metadata_json: str | None = _f("metadata as JSON text", TEXT, nullable=True)
    deleted: bool = _f("deleted in Stripe", Boolean, default=False)
    created: datetime | None = _f("creation time", TS, nullable=True)
    updated_at: datetime = _f("last time this row changed", TS)


class Plan(SQLModel, table=True):
    __tablename__ = "plans"
    __table_args__ = {
        "comment": "Stripe prices, legacy Stripe plans, and plans created through the API."
    }
    id: str = _f("price id, plan id, or the API plan id", ID, pk=True)
    source: str = _f("stripe_price, stripe_plan or api", String(16))
    product_id: str | None = _f("Stripe product id", ID, nullable=True, index=True)
    name: str | None = _f("display name: nickname, else product name, else id", TEXT, nullable=True)
    nickname: str | None = _f("Stripe's nickname of the price or plan", TEXT, nullable=True)
    amount: int | None = _f("unit amount in cents; NULL for tiered prices", MONEY, nullable=True)
    currency: str = _f("currency", CUR)
    type: str = _f("recurring or one_time", String(16), default="recurring")
    interval: str | None = _f(
        "day, week, month or year; NULL for one-time prices", String(8), nullable=True
    )
    interval_count: int = _f("number of intervals per billing period", Integer, default=1)
    usage_type: str = _f("licensed or metered", String(16), default="licensed")
    tax_behavior: str | None = _f("exclusive, inclusive or unspecified", String(16), nullable=True)
    active: bool = _f("available for new subscriptions", Boolean, default=True)
    metadata_json: str | None = _f("metadata as JSON text", TEXT, nullable=True)
    deleted: bool = _f("deleted in Stripe", Boolean, default=False)
    created: datetime | None = _f("creation time", TS, nullable=True)
    updated_at: datetime = _f("last time this row changed", TS)


class Coupon(SQLModel, table=True):
    __tablename__ = "coupons"
    __table_args__ = {"comment": "Stripe coupons."}
    id: str = _f("coupon id", ID, pk=True)
    name: str | None = _f("coupon name", TEXT, nullable=True)
    percent_off: Decimal | None = _f("percentage off, e.g. 25.5", Numeric(7, 4), nullable=True)
    amount_off: int | None = _f("amount off in cents", MONEY, nullable=True)
    currency: str | None = _f("currency of amount_off", CUR, nullable=True)
    duration: str = _f("once, repeating or forever", String(16))
    duration_in_months: int | None = _f("months, for repeating coupons", Integer, nullable=True)
    valid: bool = _f("can still be applied", Boolean, default=True)
    deleted: bool = _f("deleted in Stripe", Boolean, default=False)
    created: datetime | None = _f("creation time", TS, nullable=True)
    updated_at: datetime = _f("last time this row changed", TS)


class Subscription(SQLModel, table=True):
    __tablename__ = "subscriptions"
    __table_args__ = {"comment": "Stripe subscriptions (all statuses)."}
    id: str = _f("Stripe subscription id", ID, pk=True)
    customer_id: int | None = _f(
        "customers.id", Integer, fk="customers.id", nullable=True, index=True
    )
    stripe_customer_id: str | None = _f("Stripe customer id", ID, nullable=True)
    status: str = _f(
        "trialing, active, past_due, canceled, unpaid, incomplete, …", String(32), index=True
    )
    currency: str | None = _f("currency", CUR, nullable=True)
    start_date: datetime | None = _f("when the subscription started", TS, nullable=True)
    current_period_start: datetime | None = _f("start of the current period", TS, nullable=True)
    current_period_end: datetime | None = _f("end of the current period", TS, nullable=True)
    trial_start: datetime | None = _f("trial start", TS, nullable=True)
    trial_end: datetime | None = _f("trial end", TS, nullable=True)
    cancel_at_period_end: bool = _f("cancels when the period ends", Boolean, default=False)
    cancel_at: datetime | None = _f("scheduled cancellation time", TS, nullable=True)
    canceled_at: datetime | None = _f("when cancellation was requested", TS, nullable=True)
    ended_at: datetime | None = _f("when the subscription ended", TS, nullable=True)
    coupon_id: str | None = _f("coupon of the subscription's discount, if any", ID, nullable=True)
    metadata_json: str | None = _f("metadata as JSON text", TEXT, nullable=True)
    created: datetime | None = _f("creation time", TS, nullable=True)
    updated_at: datetime = _f("last time this row changed", TS)


class SubscriptionItem(SQLModel, table=True):
    __tablename__ = "subscription_items"
    __table_args__ = {"comment": "Items (price × quantity) of Stripe subscriptions."}
    id: str = _f("subscription item id", ID, pk=True)
    subscription_id: str = _f(
        "subscriptions.id", ID, fk="subscriptions.id", ondelete="CASCADE", index=True
    )
    plan_id: str | None = _f("price or plan id (plans.id)", ID, nullable=True)
    quantity: int = _f("quantity (seats)", Integer, default=1)
    current_period_start: datetime | None = _f(
        "start of the item's current period", TS, nullable=True
    )
    current_period_end: datetime | None = _f("end of the item's current period", TS, nullable=True)
    created: datetime | None = _f("creation time", TS, nullable=True)
    updated_at: datetime = _f("last time this row changed", TS)


class Discount(SQLModel, table=True):
    __tablename__ = "discounts"
    __table_args__ = {"comment": "Discounts applied to customers, subscriptions or invoices."}
    id: str = _f("discount id", ID, pk=True)
    coupon_id: str | None = _f("coupons.id", ID, nullable=True)
    customer_id: int | None = _f("customers.id", Integer, nullable=True, index=True)
    subscription_id: str | None = _f("subscription it applies to", ID, nullable=True)
    invoice_id: str | None = _f("invoice it applies to", ID, nullable=True)
    starts_at: datetime | None = _f("start of the discount", TS, nullable=True)
    ends_at: datetime | None = _f("end of the discount (NULL: forever)", TS, nullable=True)
    updated_at: datetime = _f("last time this row changed", TS)


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
    id: str = _f("Stripe invoice id, or the imported invoice's id", ID, pk=True)
    source: str = _f("stripe or manual", String(16), default="stripe")
    customer_id: int | None = _f("customers.id", Integer, fk="customers.id", nullable=True)
    stripe_customer_id: str | None = _f("Stripe customer id", ID, nullable=True)
    subscription_id: str | None = _f(
        "Stripe subscription id, or the imported subscription_id", ID, nullable=True, index=True
    )
    status: str = _f("draft, open, paid, void or uncollectible", String(16))
    billing_reason: str | None = _f(
        "subscription_create, subscription_cycle, manual, …", String(32), nullable=True
    )
    currency: str = _f("currency", CUR)
    subtotal: int = _f("sum of line amounts before discounts, tax excluded", MONEY, default=0)
    discount: int = _f("total discount amount", MONEY, default=0)
    tax: int = _f("total tax amount", MONEY, default=0)
    total: int = _f("subtotal − discount + exclusive tax", MONEY, default=0)
    amount_due: int = _f("amount due", MONEY, default=0)
    amount_paid: int = _f("amount paid", MONEY, default=0)
    plan_id: str | None = _f(
        "imported invoices: the plan (NULL: one-time revenue)", ID, nullable=True
    )
    quantity: int | None = _f("imported invoices: quantity", Integer, nullable=True)
    description: str | None = _f("free text", TEXT, nullable=True)
    number: str | None = _f("Stripe invoice number", ID, nullable=True)
    created: datetime | None = _f("invoice date (`date` for imported invoices)", TS, nullable=True)
    due_date: datetime | None = _f("due date", TS, nullable=True)
    paid_at: datetime | None = _f("when it was paid (`date_paid`)", TS, nullable=True)
    period_start: datetime | None = _f("service period start", TS, nullable=True)
    period_end: datetime | None = _f("service period end", TS, nullable=True)
    payment_intent_id: str | None = _f(
        "payment intent that paid it (links refunds to the invoice)", ID, nullable=True, index=True
    )
    lines_complete: bool = _f(
        "all lines are stored (beyond the embedded first page)", Boolean, default=True
    )
    updated_at: datetime = _f("last time this row changed", TS)


class InvoiceLine(SQLModel, table=True):
    __tablename__ = "invoice_lines"
    __table_args__ = {"comment": "Lines of Stripe and imported invoices."}
    id: str = _f("Stripe line id, or `<invoice id>:1` for imported invoices", ID, pk=True)
    invoice_id: str = _f("invoices.id", ID, fk="invoices.id", ondelete="CASCADE", index=True)
    position: int = _f("order of the line within its invoice", Integer, default=0)
    customer_id: int | None = _f("customers.id", Integer, nullable=True, index=True)
    subscription_id: str | None = _f("subscription the line bills", ID, nullable=True)
    subscription_item_id: str | None = _f("subscription item the line bills", ID, nullable=True)
    invoice_item_id: str | None = _f("invoice item the line comes from", ID, nullable=True)
    plan_id: str | None = _f("price or plan id (plans.id)", ID, nullable=True)
    line_type: str = _f("subscription or invoiceitem, as Stripe says", String(16))
    proration: bool = _f("a proration line", Boolean, default=False)
    currency: str = _f("currency", CUR)
    amount: int = _f(
        "line amount before discounts (tax excluded unless the price is tax-inclusive)", MONEY
    )
    discount_amount: int = _f("sum of the line's discount amounts", MONEY, default=0)
    tax_amount: int = _f("tax on the line (exclusive and inclusive)", MONEY, default=0)
    inclusive_tax_amount: int = _f("the part of tax_amount included in amount", MONEY, default=0)
    quantity: int | None = _f("quantity", Integer, nullable=True)
    period_start: datetime | None = _f("service period start", TS, nullable=True)
    period_end: datetime | None = _f("service period end", TS, nullable=True)
    description: str | None = _f("line description", TEXT, nullable=True)
    updated_at: datetime = _f("last time this row changed", TS)


class InvoiceItem(SQLModel, table=True):
    __tablename__ = "invoice_items"
    __table_args__ = {"comment": "Stripe invoice items (one-off charges and prorations)."}
    id: str = _f("invoice item id", ID, pk=True)
    customer_id: int | None = _f("customers.id", Integer, nullable=True, index=True)
    invoice_id: str | None = _f("invoice it was billed on", ID, nullable=True)
    subscription_id: str | None = _f("subscription it belongs to", ID, nullable=True)
    plan_id: str | None = _f("price id", ID, nullable=True)
    amount: int = _f("amount", MONEY)
    currency: str = _f("currency", CUR)
    quantity: int | None = _f("quantity", Integer, nullable=True)
    proration: bool = _f("a proration", Boolean, default=False)
    description: str | None = _f("description", TEXT, nullable=True)
    period_start: datetime | None = _f("period start", TS, nullable=True)
    period_end: datetime | None = _f("period end", TS, nullable=True)
    deleted: bool = _f("deleted in Stripe", Boolean, default=False)
    created: datetime | None = _f("creation time (`date`)", TS, nullable=True)
    updated_at: datetime = _f("last time this row changed", TS)


class CreditNote(SQLModel, table=True):
    __tablename__ = "credit_notes"
    __table_args__ = {"comment": "Stripe credit notes; they reduce total contract value."}
    id: str = _f("credit note id", ID, pk=True)
    invoice_id: str | None = _f("invoice credited", ID, nullable=True, index=True)
    customer_id: int | None = _f("customers.id", Integer, nullable=True, index=True)
    amount: int = _f("total credited, tax included", MONEY)
    tax_amount: int = _f("tax part of amount", MONEY, default=0)
    currency: str = _f("currency", CUR)
    status: str = _f("issued or void", String(16))
    reason: str | None = _f("reason given", String(64), nullable=True)
    created: datetime | None = _f("creation time", TS, nullable=True)
    updated_at: datetime = _f("last time this row changed", TS)


class Refund(SQLModel, table=True):
    __tablename__ = "refunds"
    __table_args__ = {"comment": "Stripe refunds; succeeded ones reduce total contract value."}
    id: str = _f("refund id", ID, pk=True)
    charge_id: str | None = _f("charge refunded", ID, nullable=True)
    payment_intent_id: str | None = _f("payment intent refunded", ID, nullable=True)
    invoice_id: str | None = _f(
        "invoice whose payment was refunded, when known", ID, nullable=True, index=True
    )
    customer_id: int | None = _f("customers.id, when known", Integer, nullable=True, index=True)
    amount: int = _f("amount refunded", MONEY)
    currency: str = _f("currency", CUR)
    status: str = _f("pending, succeeded, failed or canceled", String(16))
    reason: str | None = _f("reason given", String(64), nullable=True)
    created: datetime | None = _f("creation time", TS, nullable=True)
    updated_at: datetime = _f("last time this row changed", TS)


# ---------------------------------------------------------------- revenue lines


class RevenueLine(SQLModel, table=True):
    __tablename__ = "revenue_lines"
    __table_args__ = (
        UniqueConstraint("source", "line_id", name="uq_revenue_line"),
        Index("ix_revenue_lines_customer", "customer_id"),
        Index("ix_revenue_lines_updated", "updated_at"),
        {
            "comment": "One row per invoice line, Stripe and imported alike: the input of every metric."
        },
    )
    id: int | None = _f("surrogate key", Integer, pk=True)
    customer_id: int = _f("customers.id", Integer, fk="customers.id")
    source: str = _f("stripe or manual", String(16))
    invoice_id: str = _f("invoices.id", ID, index=True)
    line_id: str = _f("invoice_lines.id", ID)
    plan_id: str | None = _f(
        "plan/price id; NULL for one-time lines without a plan", ID, nullable=True
    )
    subscription_id: str | None = _f("subscription the line belongs to", ID, nullable=True)
    kind: str = _f("subscription, proration, metered or one_time", String(16))
    currency: str = _f("currency", CUR)
    amount: int = _f("line amount before discounts, tax excluded", MONEY)
    discount_amount: int = _f("discounts on the line", MONEY, default=0)
    tax_amount: int = _f("tax on the line", MONEY, default=0)
    net_amount: int = _f("amount − discount_amount (tax excluded)", MONEY)
    quantity: int | None = _f("quantity", Integer, nullable=True)
    interval: str | None = _f("plan interval: day, week, month, year", String(8), nullable=True)
    interval_count: int | None = _f("plan interval count", Integer, nullable=True)
    period_start: datetime | None = _f("service period start (inclusive)", TS, nullable=True)
    period_end: datetime | None = _f("service period end (exclusive)", TS, nullable=True)
    invoice_status: str = _f("status of the invoice: paid, open, …", String(16))
    due_date: datetime | None = _f("invoice due date", TS, nullable=True)
    paid_at: datetime | None = _f("when the invoice was paid", TS, nullable=True)
    updated_at: datetime = _f("last time this row changed", TS)


# ---------------------------------------------------------------- snapshots


class CustomerPlanMrr(SQLModel, table=True):
    __tablename__ = "customer_plan_mrr"
    __table_args__ = (
        Index("ix_customer_plan_mrr_month_plan", "month", "plan_id"),
        {"comment": "MRR per customer, plan and month, with the plan-level movement."},
    )
    customer_id: int = _f("customers.id", Integer, pk=True, autoincrement=False)
    plan_id: str = _f("plans.id", ID, pk=True)
    month: date = _f("first day of the month", Date, pk=True)
    currency: str = _f("currency", CUR, pk=True)
    mrr: int = _f("MRR at the end of the month, cents", MONEY)
    previous_mrr: int = _f("MRR at the end of the previous month", MONEY)
    movement: str | None = _f(
        "new, lost, upgrade, downgrade, moved_in, moved_out or NULL", String(16), nullable=True
    )
    waiting_mrr: int = _f("current month: expected MRR of renewals not yet paid", MONEY, default=0)


class CustomerMrr(SQLModel, table=True):
    __tablename__ = "customer_mrr"
    __table_args__ = (
        Index("ix_customer_mrr_month", "month", "currency"),
        {"comment": "MRR per customer and month, with the customer-level movement."},
    )
    customer_id: int = _f("customers.id", Integer, pk=True, autoincrement=False)
    month: date = _f("first day of the month", Date, pk=True)
    currency: str = _f("currency", CUR, pk=True)
    mrr: int = _f("MRR at the end of the month, cents", MONEY)
    previous_mrr: int = _f("MRR at the end of the previous month", MONEY)
    movement: str | None = _f(
        "new, reactivation, expansion, contraction, churn or NULL", String(16), nullable=True
    )
    movement_mrr: int = _f("size of the movement (positive)", MONEY, default=0)
    subscriptions: int = _f("distinct subscriptions contributing MRR", Integer, default=0)
    waiting_mrr: int = _f("current month: expected MRR of renewals not yet paid", MONEY, default=0)
    waiting_subscriptions: int = _f(
        "current month: subscriptions waiting for payment", Integer, default=0
    )


class MrrMonthly(SQLModel, table=True):
    __tablename__ = "mrr_monthly"
    __table_args__ = {
        "comment": "MRR and movements per month and currency; basis=reporting rows are converted totals."
    }
    month: date = _f("first day of the month", Date, pk=True)
    currency: str = _f("currency", CUR, pk=True)
    basis: str = _f(
        "native (one currency) or reporting (all currencies converted)", String(16), pk=True
    )
    mrr: int = _f("MRR at the end of the month", MONEY)
    subscriptions: int = _f("subscriptions contributing MRR", Integer)
    customers: int = _f("customers with MRR", Integer)
    new_mrr: int = _f("new + reactivation (FirstOfficer's new and returning)", MONEY)
    new_customers: int = _f("new and returning customers", Integer)
    reactivation_mrr: int = _f("MRR of returning customers", MONEY)
    reactivated_customers: int = _f("returning customers", Integer)
    expansion_mrr: int = _f("increases of customers paying in both months", MONEY)
    contraction_mrr: int = _f("decreases of customers paying in both months", MONEY)
    upgrade_mrr: int = _f("= expansion_mrr", MONEY)
    downgrade_mrr: int = _f("= contraction_mrr", MONEY)
    change_in_mrr: int = _f("expansion − contraction", MONEY)
    lost_mrr: int = _f("MRR of customers who stopped paying (churn)", MONEY)
    lost_customers: int = _f("customers who stopped paying", Integer)
    waiting_mrr: int = _f("current month: expected MRR of renewals not yet paid", MONEY, default=0)
    waiting_subscriptions: int = _f(
        "current month: subscriptions waiting for payment", Integer, default=0
    )
    arr: int = _f("12 × mrr", MONEY)
    arpa: int = _f("mrr / customers, rounded half up (0 without customers)", MONEY)
    fx_impact_mrr: int = _f(
        "reporting basis: change of MRR due to exchange rates", MONEY, default=0
    )
    missing_rates: str | None = _f(
        "reporting basis: currencies left out for lack of a rate", TEXT, nullable=True
    )
    is_current: bool = _f("the month of as_of (not yet closed)", Boolean, default=False)


class MrrByPlan(SQLModel, table=True):
    __tablename__ = "mrr_by_plan"
    __table_args__ = {"comment": "MRR and movements per plan and month."}
    month: date = _f("first day of the month", Date, pk=True)
    plan_id: str = _f("plans.id (FirstOfficer's plan_eid)", ID, pk=True)
    currency: str = _f("currency of the figures", CUR, pk=True)
    plan_name: str | None = _f("plan name", TEXT, nullable=True)
    total_mrr: int = _f("Σ MRR of the plan", MONEY)
    total_customers: int = _f("customers with MRR on the plan", Integer)
    beginning_mrr: int = _f("the plan's MRR at the end of the previous month", MONEY)
    beginning_customers: int = _f("customers at the end of the previous month", Integer)
    new_mrr: int = _f("MRR of customers with no MRR last month", MONEY)
    new_customers: int = _f("customers with no MRR last month", Integer)
    upgrade_mrr: int = _f("increases on the plan", MONEY)
    downgrade_mrr: int = _f("decreases on the plan (still on it)", MONEY)
    moved_in_mrr: int = _f("MRR of customers who came from another plan", MONEY)
    moved_in_customers: int = _f("customers who came from another plan", Integer)
    moved_out_mrr: int = _f("MRR of customers who moved to another plan", MONEY)
    moved_out_customers: int = _f("customers who moved to another plan", Integer)
    expansion_mrr: int = _f("upgrade + moved in", MONEY)
    contraction_mrr: int = _f("downgrade + moved out", MONEY)
    lost_mrr: int = _f("MRR of customers who stopped paying", MONEY)
    lost_customers: int = _f("customers who stopped paying", Integer)
    waiting_mrr: int = _f("current month: waiting MRR of the plan", MONEY, default=0)
    waiting_customers: int = _f("current month: customers waiting on the plan", Integer, default=0)
    end_of_term_mrr: int = _f("total_mrr + waiting_mrr", MONEY)
    end_of_term_customers: int = _f("total_customers + waiting_customers", Integer)


class CustomerSnapshot(SQLModel, table=True):
    __tablename__ = "customer_snapshots"
    __table_args__ = {"comment": "Per-customer figures served by the API."}
    customer_id: int = _f(
        "customers.id", Integer, fk="customers.id", ondelete="CASCADE", pk=True, autoincrement=False
    )
    month: date = _f("the current month when computed", Date)
    currency: str | None = _f("currency of the figures", CUR, nullable=True)
    current_mrr: int = _f("MRR in the current month", MONEY, default=0)
    current_subscription_count: int = _f(
        "subscriptions contributing MRR this month (0 = lost)", Integer, default=0
    )
    total_contract_value: int = _f(
        "all counted line net amounts ever, minus refunds and credit notes", MONEY, default=0
    )
    waiting_mrr: int = _f("expected MRR of renewals not yet paid this month", MONEY, default=0)
    as_of: datetime = _f("the `as_of` instant of the computation", TS)


class DirtyCustomer(SQLModel, table=True):
    __tablename__ = "dirty_customers"
    __table_args__ = {"comment": "Customers whose revenue lines changed since the last recompute."}
    customer_id: int = _f("customers.id", Integer, pk=True, autoincrement=False)
    marked_at: datetime = _f("when the change was recorded", TS)


class FxRate(SQLModel, table=True):
    __tablename__ = "fx_rates"
    __table_args__ = {
        "comment": "Exchange rates: 1 unit of currency = rate units of the reporting currency."
    }
    currency: str = _f("currency converted from", CUR, pk=True)
    month: date = _f("first day of the month the rate converts", Date, pk=True)
    rate: Decimal = _f("units of reporting currency per unit of currency", RATE)


# ---------------------------------------------------------------- pipeline bookkeeping


class SyncCursor(SQLModel, table=True):
    __tablename__ = "sync_cursors"
    __table_args__ = {"comment": "Where each resource's sync resumes."}
    resource: str = _f("resource or slice name, e.g. invoices or events", ID, pk=True)
    cursor: str | None = _f("last object id (or event id) written", ID, nullable=True)
    phase: str = _f("full, done or incremental", String(16), default="full")
    state_json: str | None = _f("extra resumable state as JSON", TEXT, nullable=True)
    sync_run_id: int | None = _f("run that wrote it", Integer, nullable=True)
    updated_at: datetime = _f("when it moved", TS)


class SyncRun(SQLModel, table=True):
    __tablename__ = "sync_runs"
    __table_args__ = {"comment": "One row per sync or backfill run."}
    id: int | None = _f("run id", Integer, pk=True)
    kind: str = _f("full, incremental or backfill", String(16))
    status: str = _f("running, ok, failed or interrupted", String(16))
    started_at: datetime = _f("start", TS)
    finished_at: datetime | None = _f("end", TS, nullable=True)
    objects: int = _f("objects written", Integer, default=0)
    requests: int = _f("HTTP requests made", Integer, default=0)
    retries: int = _f("retried requests", Integer, default=0)
    malformed: int = _f("objects stored raw but not normalized", Integer, default=0)
    counts_json: str | None = _f("objects per resource as JSON", TEXT, nullable=True)
    error: str | None = _f("error message of a failed run", TEXT, nullable=True)


class Lock(SQLModel, table=True):
    __tablename__ = "locks"
    __table_args__ = {"comment": "Advisory locks that keep two syncs from running at once."}
    name: str = _f("lock name", ID, pk=True)
    holder: str = _f("host:pid of the holder", ID)
    acquired_at: datetime = _f("when taken", TS)
    heartbeat_at: datetime = _f("last sign of life of the holder", TS)


class JobRun(SQLModel, table=True):
    __tablename__ = "job_runs"
    __table_args__ = (
        Index("ix_job_runs_job_started", "job", "started_at"),
        {"comment": "Every run of a scheduled or manual job."},
    )
    id: int | None = _f("run id", Integer, pk=True)
    job: str = _f("sync, recompute, reconcile, prune, …", String(32))
    trigger: str = _f("daemon, cron, cli or api", String(16), default="cli")
    status: str = _f("running, ok, failed or skipped (another sync held the lock)", String(16))
    started_at: datetime = _f("start", TS)
    finished_at: datetime | None = _f("end", TS, nullable=True)
    counts_json: str | None = _f("what the job did, as JSON", TEXT, nullable=True)
    error: str | None = _f("error message", TEXT, nullable=True)


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"
    __table_args__ = {"comment": "HTTP API keys; only a hash is stored."}
    id: str = _f("public key id, e.g. key_3f9a…", String(32), pk=True)
    name: str | None = _f("label", TEXT, nullable=True)
    key_hash: str = _f("SHA-256 of the key", String(64), unique=True)
    prefix: str = _f("first characters of the key, to recognise it", String(16))
    created_at: datetime = _f("creation time", TS)
    last_used_at: datetime | None = _f("last successful use", TS, nullable=True)
    revoked_at: datetime | None = _f("revocation time", TS, nullable=True)


def all_tables() -> list[Any]:
    return list(metadata.sorted_tables)
