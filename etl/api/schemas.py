"""Pydantic models of every object the API takes and returns (FirstOfficer V2 shapes).

Response models forbid unknown fields so that a test can hold the seed's examples
against them. Fields that the seed shows in only some examples, and the extra
fields of our metric rules, are optional in the schema but always sent (except
`waiting_*`, which only the current month carries).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from etl.api.codes import COUNTRIES
from etl.currency import CURRENCY_PATTERN, iso_currency
from etl.imports.invoice_fields import ID_PATTERN, MAX_AMOUNT, MAX_QUANTITY, TEXT_LIMITS

EMAIL_PATTERN = r"^[^@\x00-\x20\x7f]+@[^@\x00-\x20\x7f]+\.[^@\x00-\x20\x7f]+$"
_EMAIL = re.compile(EMAIL_PATTERN)


def opt(description: str, **kwargs: Any) -> Any:
    """An optional field with a non-null schema type: absent rather than null when unknown."""
    return Field(None, description=description, **kwargs)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- errors and health


class ErrorDetail(Strict):
    type: str = Field(description="invalid_request_error, or api_error for a 500")
    message: str = Field(description="a human-readable message")
    param: str = opt("the parameter this error relates to")
    request_id: str = opt("500 only: the id the server's log line carries")


class ErrorBody(Strict):
    error: ErrorDetail


class JobHealth(Strict):
    status: str = Field(
        description="status of the job's latest run: running, ok, failed or skipped"
    )
    started_at: str | None = Field(description="start of the latest run (ISO, UTC)")
    finished_at: str | None = Field(description="end of the latest run (ISO, UTC)")
    error: str | None = Field(description="error of the latest run, if it failed")
    last_ok_at: str | None = Field(description="end of the job's last successful run (ISO, UTC)")


class Health(Strict):
    status: Literal["ok", "error"]
    database: Literal["ok", "unreachable"]
    last_sync_at: str | None = Field(description="end of the last successful sync (ISO, UTC)")
    last_recompute_at: str | None = Field(
        description="end of the last successful recompute (ISO, UTC)"
    )
    jobs: dict[str, JobHealth] = Field(
        default_factory=dict,
        description="each job (sync, recompute, reconcile, prune) and its latest run, as recorded in job_runs",
    )


# ---------------------------------------------------------------- customers


class Customer(Strict):
    id: int = Field(description="Customer's ID (integer)", examples=[1340573])
    stripe_id: str | None = Field(description="Customer's ID in Stripe; null if created here")
    extra_id: str | None = Field(description="Optional internal ID (Stripe metadata or set here)")
    email: str | None = Field(description="Customer's email")
    name: str | None = Field(description="Customer's name")
    total_contract_value: int = Field(
        description="Realized lifetime value by now, cents: all purchases, minus refunds"
    )
    current_mrr: int = Field(description="MRR in the current month, cents")
    current_subscription_count: int = Field(
        description="Subscriptions that contributed to MRR this month; 0 = lost"
    )
    currency: str | None = Field(description='The currency for this customer, e.g. "usd"')
    country: str | None = Field(description='ISO 3166-1 alpha-2 country, e.g. "US"')
    state: str | None = Field(description='US state, e.g. "OH"; empty outside the US')


class CustomerList(Strict):
    object: Literal["list"]
    has_more: bool
    data: list[Customer]


def _no_nul(v: Any) -> Any:
    """Text every database can store: no NUL (PostgreSQL refuses it), no lone surrogates."""
    if isinstance(v, str):
        if "\x00" in v:
            raise ValueError("must not contain NUL characters")
        try:
            v.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("must be valid Unicode text") from None
    return v


MAX_EMAIL = 320  # customers.email and customers.email_key are VARCHAR(320)


def check_email(v: str) -> str:
    v = v.strip()
    if not _EMAIL.match(v):
        raise ValueError(f"{v!r} is not a valid email address")
    # Lower-casing can lengthen text ("İ" becomes two characters): the key must fit too.
    if len(v.lower()) > MAX_EMAIL:
        raise ValueError(f"is longer than {MAX_EMAIL} characters once lower-cased")
    return v


def check_country(v: str) -> str:
    v = v.strip().upper()
    if v not in COUNTRIES:
        raise ValueError(f"{v!r} is not an ISO 3166-1 alpha-2 country code")
    return v


class _CustomerFields(Strict):
    name: str = opt("The name of the customer.", max_length=1000)
    extra_id: str = opt(
        "Additional ID that will help to identify this customer; empty clears it.",
        max_length=255,
    )
    country: str = opt(
        "ISO 3166-1 alpha-2 country code, e.g. US; empty clears it.",
        pattern=r"^([A-Za-z]{2})?$",
    )
    state: str = opt("US state, e.g. OH; empty clears it.", max_length=64)
    currency: str = opt("ISO 4217 currency code, e.g. usd.", pattern=CURRENCY_PATTERN)

    @field_validator("*", mode="before")
    @classmethod
    def _strings(cls, v: Any) -> Any:
        return _no_nul(v)

    @field_validator("extra_id", mode="before")
    @classmethod
    def _extra_id(cls, v: Any) -> Any:
        return _int_to_text(v)

    @field_validator("country")
    @classmethod
    def _country(cls, v: str | None) -> str | None:
        return check_country(v) if v else v

    @field_validator("currency")
    @classmethod
    def _currency(cls, v: str | None) -> str | None:
        return iso_currency(v) if v is not None else v


class CustomerCreate(_CustomerFields):
    email: str = Field(
        description="The email of the customer, unique (case-insensitive).",
        max_length=320,
        pattern=EMAIL_PATTERN,
    )

    @field_validator("email")
    @classmethod
    def _email(cls, v: str) -> str:
        return check_email(v)


class CustomerUpdate(_CustomerFields):
    email: str = opt(
        "The email of the customer, unique (case-insensitive).",
        max_length=320,
        pattern=EMAIL_PATTERN,
    )

    @field_validator("email")
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        return check_email(v) if v is not None else v


# ---------------------------------------------------------------- MRR


class Mrr(Strict):
    object: Literal["mrr"]
    month: date = Field(description="The first day of the month")
    mrr: int = Field(description="MRR at the end of the month (so far, for the current month)")
    subscriptions: int = Field(description="Subscriptions contributing to MRR")
    upgrade_mrr: int = Field(description="MRR from upgrades (= expansion_mrr)")
    downgrade_mrr: int = Field(description="MRR from downgrades (= contraction_mrr)")
    new_mrr: int = Field(description="MRR from new and returning customers")
    new_customers: int = Field(description="Number of new and returning customers")
    lost_mrr: int = Field(description="MRR from customers who stopped paying")
    lost_customers: int = Field(description="Number of customers who stopped paying")
    currency: str = Field(description='Currency of this object, e.g. "usd"')
    change_in_mrr: int = opt("Net change due to upgrades and downgrades: expansion − contraction")
    expansion_mrr: int = opt("Increases of customers paying in both months")
    contraction_mrr: int = opt("Decreases of customers paying in both months")
    reactivation_mrr: int = opt("MRR of returning customers (part of new_mrr)")
    reactivated_customers: int = opt("Returning customers (part of new_customers)")
    customers: int = opt("Customers with MRR")
    arr: int = opt("12 × mrr")
    arpa: int = opt("Average MRR per customer, rounded half up")
    basis: Literal["native", "reporting"] = opt(
        "native: one currency's own figures; reporting: all currencies converted"
    )
    fx_impact_mrr: int = opt("Reporting basis: change of MRR due to exchange rates")
    missing_rates: list[str] = opt(
        "Reporting basis: currencies left out of this month's total for lack of a rate"
    )
    waiting_mrr: int = opt("Current month only: expected MRR of renewals not yet charged")
    waiting_subscriptions: int = opt("Current month only: subscriptions waiting to be charged")


class MrrList(Strict):
    data: list[Mrr]


class NoData(Strict):
    """A month without data: `{}`."""


class MrrByPlan(Strict):
    month: str = Field(
        description="The first day of the month, as 2019-02-01T00:00:00.000Z",
        pattern=r"^\d{4}-\d{2}-01T00:00:00\.000Z$",
    )
    total_mrr: int = Field(description="The plan's MRR")
    total_customers: int = Field(description="Customers with MRR on the plan")
    end_of_term_customers: int = Field(description="total_customers + waiting customers")
    lost_customers: int = Field(description="Customers who stopped paying")
    end_of_term_mrr: int = Field(description="total_mrr + waiting_mrr")
    lost_mrr: int = Field(description="MRR from customers who stopped paying")
    new_mrr: int = Field(description="MRR from new and returning customers")
    beginning_mrr: int = Field(description="The plan's MRR at the end of the previous month")
    upgrade_mrr: int = Field(description="Increases on the plan")
    downgrade_mrr: int = Field(description="Decreases of customers still on the plan")
    moved_in_mrr: int = Field(description="MRR of customers who came from another plan")
    moved_out_mrr: int = Field(description="MRR of customers who moved to another plan")
    waiting_mrr: int = Field(description="Current month: the plan's MRR still to be charged")
    plan_name: str | None = Field(description="Plan name")
    plan_eid: str = Field(description="Plan id (as in Stripe)")
    currency: str = opt("Currency of the plan")
    new_customers: int = opt("New and returning customers on the plan")
    beginning_customers: int = opt("Customers at the end of the previous month")
    expansion_mrr: int = opt("upgrade_mrr + moved_in_mrr")
    contraction_mrr: int = opt("downgrade_mrr + moved_out_mrr")


# ---------------------------------------------------------------- plans


class Plan(Strict):
    id: str = Field(description="Plan's unique ID; the Stripe id for Stripe plans and prices")
    object: Literal["plan"]
    amount: int | None = Field(description="Amount per interval, cents (null: tiered price)")
    currency: str = Field(description="3-letter ISO currency code")
    interval: str | None = Field(description='"day", "week", "month" or "year"')
    interval_count: int = Field(description="Intervals between billings")
    name: str | None = Field(description="Display name")


class PlanList(Strict):
    object: Literal["list"]
    has_more: bool
    data: list[Plan]


class PlanCreate(Strict):
    id: str = Field(
        description="The plan's unique id.",
        min_length=1,
        max_length=255,
        pattern=r"^[^/?#%\x00-\x1f\x7f]+$",
    )
    amount: int = Field(
        description="Amount per interval in the smallest currency unit.", ge=0, le=MAX_AMOUNT
    )
    name: str = Field(description="Display name of the plan.", min_length=1, max_length=1000)
    interval: Literal["day", "week", "month", "year"] = Field(
        "month", description="The billing frequency."
    )
    interval_count: int = Field(
        1, description="Intervals between billings (3 months: month × 3).", ge=1, le=365
    )
    currency: str = Field(
        "usd", description="3-letter ISO currency code.", pattern=CURRENCY_PATTERN
    )

    @field_validator("*", mode="before")
    @classmethod
    def _strings(cls, v: Any) -> Any:
        return _no_nul(v)

    @field_validator("currency")
    @classmethod
    def _currency(cls, v: str) -> str:
        return iso_currency(v)


# ---------------------------------------------------------------- invoices


class Invoice(Strict):
    id: str = Field(description="Unique identifier")
    object: Literal["invoice"]
    amount_paid: int = Field(description="amount − discount, cents")
    discount: int = Field(description="Discount, cents")
    amount: int = Field(description="Total before discounts, cents")
    currency: str = Field(description="Currency of the invoice")
    customer: str = Field(description="The customer's Stripe id, else its integer id")
    plan: str | None = Field(description="The plan; null: one-time revenue, no MRR")
    date_paid: str | None = Field(description="When the payment was received (ISO datetime)")
    date: str | None = Field(description="When the invoice was created (ISO datetime)")
    quantity: int | None = Field(description="Seats")
    period_start: str | None = Field(description="Subscription period start (ISO datetime)")
    period_end: str | None = Field(description="Subscription period end (ISO datetime)")
    description: str | None = Field(description="Free text")
    subscription_id: str | None = opt("Identifier of the subscription")


class InvoiceList(Strict):
    object: Literal["list"]
    has_more: bool
    data: list[Invoice]


class DeletedInvoice(Strict):
    deleted: bool
    id: str


_DT = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|z|[+-]\d{2}:?\d{2})?)?$"


def _int_to_text(v: Any) -> Any:
    """FirstOfficer ids are integers: accept 1340573 where "1340573" is meant."""
    return str(v) if isinstance(v, int) and not isinstance(v, bool) else v


class InvoiceCreate(Strict):
    """The body of POST /v2/invoices, for the document only: the route validates it with
    etl.imports.invoice_rules, the rules of `etl import-invoices`, whose bounds these are."""

    customer: str = Field(
        description="The customer: integer id, Stripe id, extra id or email.",
        min_length=1,
        max_length=TEXT_LIMITS["customer"],
    )
    plan: str = opt(
        "The plan id. Omitted: a one-time payment, booked into revenue, not MRR.",
        min_length=1,
        max_length=TEXT_LIMITS["plan"],
    )
    amount: int = opt(
        "Total before discounts, cents. Optional when plan given (plan amount × quantity).",
        ge=0,
        le=MAX_AMOUNT,
    )
    date_paid: str = opt("When the payment was received; default now.", pattern=_DT)
    date: str = opt("When the invoice was created; default date_paid.", pattern=_DT)
    discount: int = opt("Discount, cents; amount_paid = amount − discount.", ge=0, le=MAX_AMOUNT)
    id: str = opt(
        "Unique id that prevents importing the same invoice twice; generated when omitted.",
        pattern=ID_PATTERN,
    )
    subscription_id: str = opt(
        "Continue or upgrade an existing subscription.",
        min_length=1,
        max_length=TEXT_LIMITS["subscription_id"],
    )
    quantity: int = opt("Seats; default 1.", ge=1, le=MAX_QUANTITY)
    period_start: str = opt("Service period start; default date.", pattern=_DT)
    period_end: str = opt(
        "Service period end; default period_start + one plan interval.", pattern=_DT
    )
    currency: str = opt("ISO 4217 currency; default the plan's.", pattern=CURRENCY_PATTERN)
    description: str = opt(
        "Free text describing what got invoiced.", max_length=TEXT_LIMITS["description"]
    )
