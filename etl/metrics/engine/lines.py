"""The engine's row types: what goes into `compute_customer` and what comes out.

Inputs are one customer's revenue lines, the subscription items expected to renew and
the refunds and credit notes; outputs are tuples in the column order of
`customer_plan_mrr`, `customer_mrr` and `customer_snapshots`. Instants are epoch seconds
(UTC), so that the hot loop compares ints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple

from etl.periods import month_grid

MRR_KINDS = ("subscription", "proration")
WAITING_STATUSES = ("active", "past_due")
DAY = 86_400


class Line(NamedTuple):
    """One revenue line as the engine needs it (see revenue_lines)."""

    customer_id: int
    currency: str
    plan_id: str | None
    subscription_id: str | None
    kind: str
    net: int  # amount − discounts, tax excluded
    tax: int  # all tax on the line
    interval: str | None
    interval_count: int | None
    start: int | None  # service period start, epoch seconds
    end: int | None  # service period end, epoch seconds
    status: str  # invoice status
    due: int | None  # invoice due date, epoch seconds


class ExpectedItem(NamedTuple):
    """An item of a Stripe subscription, for waiting MRR in the current month."""

    customer_id: int
    subscription_id: str
    status: str
    cancel_at_period_end: bool
    cancel_at: int | None
    ended_at: int | None
    plan_id: str
    currency: str
    amount: int  # unit amount of the plan
    quantity: int
    interval: str
    interval_count: int
    # The subscription's coupon, for the expected price of the renewal.
    coupon_duration: str | None = None  # once, repeating or forever
    percent_off: Decimal | None = None
    amount_off: int | None = None
    discount_end: int | None = None  # epoch seconds; repeating coupons
    period_end: int | None = None  # end of the current period = the renewal, epoch seconds


class Adjustment(NamedTuple):
    """A refund or credit note: reduces total contract value."""

    customer_id: int
    kind: str  # refund | credit_note
    status: str
    currency: str
    amount: int
    tax: int


@dataclass(frozen=True)
class Params:
    as_of: int  # epoch seconds
    timezone: str = "UTC"
    include_tax: bool = False
    past_due_grace_days: int = 0

    @property
    def current_month(self) -> int:
        return month_grid(self.timezone).month_of(self.as_of)


# Row tuples, in column order of their tables.
class PlanRow(NamedTuple):
    customer_id: int
    plan_id: str
    month: date
    currency: str
    mrr: int
    previous_mrr: int
    movement: str | None
    waiting_mrr: int


class CustomerRow(NamedTuple):
    customer_id: int
    month: date
    currency: str
    mrr: int
    previous_mrr: int
    movement: str | None
    movement_mrr: int
    subscriptions: int
    waiting_mrr: int
    waiting_subscriptions: int


class Snapshot(NamedTuple):
    customer_id: int
    month: date
    currency: str | None
    current_mrr: int
    current_subscription_count: int
    total_contract_value: int
    waiting_mrr: int


@dataclass
class CustomerResult:
    # Plain tuples in the field order of PlanRow / CustomerRow (cheaper than NamedTuples
    # for a million rows; wrap with PlanRow._make when names help).
    plan_rows: list[Any] = field(default_factory=list)
    customer_rows: list[Any] = field(default_factory=list)
    snapshot: Snapshot | None = None
    unrated_lines: int = 0
