"""What the simulation keeps besides the Stripe objects: timelines and live state.

Two kinds of records live here, below every module of the simulation:
- the *timeline* of each subscription (`SubTimeline` with its `Period`s, `Change`s and
  the `InvoiceFact` of every charging invoice): what `etl.sandbox.simulation.truth`
  derives the expected metrics from, never from the invoice objects;
- the mutable *state* of customers, subscriptions and their items while the simulation
  runs (`CustomerState`, `SubscriptionState`, `ItemState`, `PendingItem`), from which
  the Stripe objects are rendered (`subscription_object`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from etl.sandbox.simulation.catalog import Coupon, Price, TaxRate
from etl.sandbox.simulation.render import item_obj, subscription_obj

Obj = dict[str, Any]

# ---------------------------------------------------------------- timeline records


@dataclass(slots=True, eq=False)
class InvoiceFact:
    """What the simulation knows about an invoice (the truth reads this, not the object)."""

    id: str
    created: int
    first: bool  # the subscription's first invoice (a `once` coupon applies to it)
    paid_at: int | None = None
    status: str = "draft"


@dataclass(slots=True, eq=False)
class Period:
    """A billing period charged for one licensed item: price × quantity over [start, end)."""

    item: str
    price: str
    quantity: int
    start: int
    end: int
    invoice: InvoiceFact
    trial: bool = False


@dataclass(slots=True, eq=False)
class Change:
    """A mid-period change of one item at `at`, in billing period [period_start, period_end).

    `new_price` None = the item was removed (cancellation with a proration credit).
    `invoice` is the invoice that carried the proration (None while pending)."""

    item: str
    at: int
    period_start: int
    period_end: int
    old_price: str
    old_quantity: int
    new_price: str | None
    new_quantity: int
    invoice: InvoiceFact | None = None


@dataclass(slots=True, eq=False)
class SubTimeline:
    id: str
    customer: str
    currency: str
    created: int
    coupon: str | None = None
    discount_start: int | None = None
    discount_end: int | None = None  # repeating coupons: invoices created before this
    periods: list[Period] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    status_history: list[tuple[int, str]] = field(default_factory=list)
    # (requested at, effective at, kind) kind: period_end | immediate
    cancellations: list[tuple[int, int, str]] = field(default_factory=list)
    # item id -> list of (from time, price id, quantity) — the item's price over time
    items: dict[str, list[tuple[int, str, int]]] = field(default_factory=dict)


# ---------------------------------------------------------------- simulation state


@dataclass(slots=True, eq=False)
class ItemState:
    id: str
    price: Price
    qty: int
    created: int
    last_line: tuple[str, str] | None = None  # (invoice id, line id) that last charged it


@dataclass(slots=True, eq=False)
class CustomerState:
    id: str
    idx: int
    currency: str
    country: str
    tax: TaxRate | None
    email: str
    name: str
    phone: str | None
    address: Obj
    metadata: Obj
    prefix: str
    created: int
    balance: int = 0
    seq: int = 1
    deleted: bool = False
    active_subs: int = 0
    subs: int = 0


@dataclass(slots=True, eq=False)
class PendingItem:
    """An invoice item waiting for the next invoice."""

    ii: str
    price: Price
    qty: int
    amount: int
    start: int
    end: int
    desc: str
    si: str | None
    proration: bool
    credited: tuple[str, str] | None
    change: Change | None


@dataclass(slots=True, eq=False)
class SubscriptionState:
    id: str
    cust: CustomerState
    created: int
    anchor: int
    items: list[ItemState]
    metered: ItemState | None
    tl: SubTimeline
    coupon: Coupon | None = None
    discount_id: str | None = None
    status: str = "active"
    period_start: int = 0
    period_end: int = 0
    trial_start: int | None = None
    trial_end: int | None = None
    cancel_at_period_end: bool = False
    canceled_at: int | None = None
    ended_at: int | None = None
    cancel_reason: str | None = None
    latest_invoice: str | None = None
    n_invoices: int = 0
    pending: list[PendingItem] = field(default_factory=list)
    discount_live: bool = False
    prev_period_start: int | None = None
    changes_allowed: bool = True

    def set_status(self, t: int, status: str) -> None:
        """A new status, recorded in the timeline's status history."""
        if self.status != status:
            self.status = status
            self.tl.status_history.append((t, status))


def subscription_object(s: SubscriptionState) -> Obj:
    """The Stripe subscription object of the subscription's current state."""
    items = [
        item_obj(
            it.id,
            s.id,
            it.created,
            it.price.obj,
            it.price.plan_obj,
            it.qty,
            s.period_start,
            s.period_end,
        )
        for it in s.items
    ]
    if s.metered is not None:
        m = s.metered
        items.append(
            item_obj(
                m.id,
                s.id,
                m.created,
                m.price.obj,
                m.price.plan_obj,
                None,
                s.period_start,
                s.period_end,
            )
        )
    return subscription_obj(
        s.id,
        s.cust.id,
        s.cust.currency,
        s.created,
        s.anchor,
        items,
        s.status,
        s.latest_invoice,
        [s.discount_id] if s.discount_live and s.discount_id else [],
        s.trial_start,
        s.trial_end,
        s.cancel_at_period_end,
        s.period_end if s.cancel_at_period_end else None,
        s.canceled_at,
        s.ended_at,
        s.cancel_reason,
        {},
    )
