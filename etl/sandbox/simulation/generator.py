"""A generated Stripe account: a deterministic simulation of a SaaS business.

`generate_account(seed, customers, months, end)` simulates `months` of history ending at
`end` and returns an `Account` whose `objects` hold plain dicts in the shapes of the
current Stripe API (2026-10-28.endive): resource -> {id: object}, in creation order
(ascending `created`, ties by id). `Account.advance(days)` moves the clock on.

How the simulation runs: one priority queue of timed actions (signups, renewals,
payment attempts, plan changes, cancellations, refunds, customer updates, deletions),
processed in (time, sequence) order with one seeded RNG consumed in that order — so the
account is a pure function of its arguments and of the sequence of advances.

Alongside the Stripe objects the simulation keeps a *timeline* per subscription
(`SubTimeline`): the billing periods it charged (price, quantity, period, the invoice
that charged it and when that invoice was paid), the coupon and its window, the
mid-period changes (old/new price and quantity, change time, billing period) and
cancellations, and the status history. `etl.sandbox.simulation.truth` derives the expected
metrics from that timeline, never from the invoice objects.

Modelling choices (what a reader of the objects can rely on):
- Billing anchors fall on days 1–28 (some exactly at 00:00 on the 1st), so a billing
  period is always [end − one interval, end) in UTC calendar arithmetic: a signup
  whose anchor would fall on the 29th–31st starts its subscription on the 1st.
- Prorations follow Stripe's classic mode, by the second: a change at x in period
  [s, e) credits −round(old_unit × old_qty × (e − x) / (e − s)) and charges
  round(new_unit × new_qty × (e − x) / (e − s)) (halves rounded up), both as invoice
  items (`ii_…`, proration=true) on the next renewal invoice, or at once on a
  `subscription_update` invoice (proration_behavior always_invoice). Plan changes keep
  the interval and currency.
- Discounts: percent-off coupons discount every discountable line of the subscription
  (round half up); amount-off coupons only go to single-item subscriptions and discount
  their subscription line (at most its amount). `once` = the subscription's first
  invoice (never given with a trial), `repeating` = invoices created before
  discount.end, `forever` = all. Subscriptions with a coupon never change plan.
  One-off invoice items are not discountable.
- Tax: some customers pay exclusive tax (one tax rate per country): per line
  round_half_up(net × rate), in `line.taxes` and `invoice.total_taxes`.
- Invoices: `period_start`/`period_end` are Stripe's: the period that just ended for a
  renewal (the service period is on the lines), the creation time for the first
  invoice. A renewal invoice is created (draft) at the period start and finalized and
  charged one hour later; the first invoice of a subscription is paid at creation.
  total = subtotal − discounts + tax; amount_due = max(0, total + starting_balance)
  (a negative total becomes customer credit, applied to the next invoice);
  amount_remaining = amount_due − amount_paid (0 once void).
- Payments: `invoice.payments.data[].payment.payment_intent` (pi_…) names the payment of
  a paid invoice; refunds carry `charge` (ch_…) and `payment_intent` (the same pi_…),
  so a sync maps refund -> invoice through the payment intent. Invoice payments'
  charges are recorded in `Account.charges` (ch_… -> invoice id).
- Failed renewals: the invoice stays open and the subscription is past_due; retries
  3, 5 and 7 days later (each failure an `invoice.payment_failed` with attempt_count
  and next_payment_attempt) succeed, or after 15 days the invoice is marked
  uncollectible (or voided) and the subscription canceled (reason payment_failed).
- Events exist for the last 30 days before `end` and for everything after (advance);
  older ones are dropped as the clock moves, like Stripe's 30-day retention. Types:
  customer.created/updated/deleted, customer.discount.created/deleted,
  customer.subscription.created/updated/deleted/trial_will_end, invoice.created/
  finalized/paid/payment_succeeded/payment_failed/updated/voided/marked_uncollectible,
  invoiceitem.created, product.created/updated, price.created/updated, plan.updated,
  credit_note.created, refund.created. `data.object` is the object as it was (objects
  are never mutated once an event refers to them: changes replace them), and updates
  carry `data.previous_attributes`. Bookkeeping changes Stripe does not announce
  (a customer's next_invoice_sequence, a coupon's times_redeemed, an invoice item's
  `invoice` when it is billed) have no event.
- Shapes: every key of Stripe's own examples (fixtures3.json) is present, except
  `invoice.subscription`, removed from the current API (see
  `invoice.parent.subscription_details`).
- Extra resource `objects["discount"]` (di_… objects, for `expand[]=discounts`).
  `objects["plan"]` holds the legacy plans only (ids plan_…); they are also in
  `objects["price"]` as price objects, since a plan id works as a price id.
- Metered usage is billed in arrears on each renewal; the usage of the last period of
  a canceled subscription is not billed.
"""

from __future__ import annotations

import argparse
import calendar
import gc
import heapq
import os
import random
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from etl.sandbox.simulation.catalog import (
    TIER_ORDER,
    Catalog,
    Coupon,
    Price,
    TaxRate,
    build_catalog,
    price_obj,
)
from etl.sandbox.simulation.render import (
    API_VERSION,
    credit_note_obj,
    customer_obj,
    discount_obj,
    event_obj,
    invoice_obj,
    invoice_payment_obj,
    invoiceitem_obj,
    item_obj,
    line_obj,
    refund_obj,
    subscription_obj,
)
from etl.sandbox.simulation.util import DAY, Ids, add_interval, add_months, mix64, prorate, ts

__all__ = ["API_VERSION", "DEFAULT_END", "RESOURCES", "Account", "generate_account"]

Obj = dict[str, Any]

DEFAULT_END = datetime(2026, 11, 1, tzinfo=UTC)
EVENT_WINDOW = 30 * DAY
RESOURCES = (
    "customer",
    "product",
    "price",
    "plan",
    "coupon",
    "discount",
    "subscription",
    "invoice",
    "invoiceitem",
    "credit_note",
    "refund",
    "event",
)

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
class _Item:
    id: str
    price: Price
    qty: int
    created: int
    last_line: tuple[str, str] | None = None  # (invoice id, line id) that last charged it


@dataclass(slots=True, eq=False)
class _Cust:
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
class _Pending:
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
class _Sub:
    id: str
    cust: _Cust
    created: int
    anchor: int
    items: list[_Item]
    metered: _Item | None
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
    pending: list[_Pending] = field(default_factory=list)
    discount_live: bool = False
    prev_period_start: int | None = None
    changes_allowed: bool = True


_FIRST = [
    "Ada",
    "Alan",
    "Grace",
    "Linus",
    "Margaret",
    "Ken",
    "Barbara",
    "Dennis",
    "Frances",
    "Edsger",
    "Radia",
    "Donald",
    "Hedy",
    "Tim",
    "Sophie",
    "Karen",
    "John",
    "Mary",
    "Guido",
    "Bjarne",
    "Anita",
    "Leslie",
    "Shafi",
    "Whitfield",
    "Claude",
    "Niklaus",
]
_LAST = [
    "Lovelace",
    "Turing",
    "Hopper",
    "Torvalds",
    "Hamilton",
    "Thompson",
    "Liskov",
    "Ritchie",
    "Allen",
    "Dijkstra",
    "Perlman",
    "Knuth",
    "Lamarr",
    "Berners-Lee",
    "Wilson",
    "Jones",
    "McCarthy",
    "Shaw",
    "Rossum",
    "Stroustrup",
    "Borg",
    "Lamport",
    "Goldwasser",
    "Diffie",
    "Shannon",
    "Wirth",
]
_COMPANY = [
    "acme",
    "globex",
    "initech",
    "umbrella",
    "hooli",
    "piedpiper",
    "vandelay",
    "stark",
    "wayne",
    "cyberdyne",
    "tyrell",
    "soylent",
    "wonka",
    "gringotts",
    "oscorp",
    "aperture",
    "blackmesa",
    "monarch",
    "dunder",
    "prestige",
]
_US_STATES = ("CA", "NY", "TX", "WA", "MA", "IL", "FL", "CO", "OR", "GA", "NC", "PA")
_CITIES = {
    "US": ("San Francisco", "New York", "Austin", "Seattle", "Boston", "Chicago"),
    "CA": ("Toronto", "Vancouver", "Montreal"),
    "AU": ("Sydney", "Melbourne"),
    "DE": ("Berlin", "Munich", "Hamburg"),
    "FR": ("Paris", "Lyon"),
    "NL": ("Amsterdam", "Utrecht"),
    "ES": ("Madrid", "Barcelona"),
    "IT": ("Milan", "Rome"),
    "IE": ("Dublin", "Cork"),
    "GB": ("London", "Manchester", "Edinburgh"),
}
_COUNTRIES = {
    "usd": (("US", 80), ("CA", 12), ("AU", 8)),
    "eur": (("DE", 35), ("FR", 25), ("NL", 15), ("ES", 10), ("IT", 10), ("IE", 5)),
    "gbp": (("GB", 100),),
}


def _weighted(r: random.Random, choices: tuple[tuple[Any, int], ...]) -> Any:
    total = sum(w for _, w in choices)
    x = r.random() * total
    for v, w in choices:
        x -= w
        if x < 0:
            return v
    return choices[-1][0]


def _creation_key(kv: tuple[str, Obj]) -> tuple[int, str]:
    o = kv[1]
    t: int = o.get("created") or o.get("date") or o.get("start") or 0
    return (t, kv[0])


class Account:
    """A simulated Stripe account. Read `objects` under `lock`; `advance()` mutates them."""

    def __init__(self, seed: int, customers: int, months: int, end: int) -> None:
        self.seed = seed
        self.customers = customers
        self.months = months
        self.end = end
        self.start = add_months(end, -months)
        self.now = end
        self.lock = threading.RLock()
        self.objects: dict[str, dict[str, Obj]] = {r: {} for r in RESOURCES}
        self.timelines: dict[str, SubTimeline] = {}  # subscription id -> timeline
        self.invoice_facts: dict[str, InvoiceFact] = {}
        self.charges: dict[str, str] = {}  # ch_… -> invoice id
        self.tax_rates: dict[str, TaxRate] = {}
        self._rng = random.Random(mix64(seed) ^ 0xACC0)
        self._ids = Ids(seed)
        self._queue: list[tuple[int, int, Callable[..., None], tuple[Any, ...]]] = []
        self._seq = 0
        self._event_floor = end - EVENT_WINDOW
        self._new_events: list[Obj] = []
        self._custs: list[_Cust] = []
        self._subs: dict[str, _Sub] = {}
        self._inv_meta: dict[str, tuple[str, str, int]] = {}  # invoice -> (charge, pi, amount)
        self._emails: set[str] = set()
        self._cat: Catalog = build_catalog(self._ids, self.start)
        self.tax_rates = dict(self._cat.tax_rates)
        self._arrival_rate = 0.0
        self._cache: dict[Any, Obj] = {}  # shared immutable nested dicts (sim_render)
        self._dirty: dict[_Sub, None] = {}  # insertion-ordered set of stale subscriptions

    # ------------------------------------------------------------ public

    @property
    def customer_count(self) -> int:
        return len(self.objects["customer"])

    @property
    def catalog(self) -> Catalog:
        return self._cat

    def advance(self, days: int) -> list[Obj]:
        """Move the clock forward by `days`; returns the events created meanwhile."""
        if days < 0:
            raise ValueError("days must be >= 0")
        with self.lock, _no_gc():
            marks = {r: len(d) for r, d in self.objects.items()}
            self._new_events = []
            target = self.now + int(days) * DAY
            self._run_until(target)
            self.now = target
            self._sort_new(marks)
            floor = self.now - EVENT_WINDOW
            events = self.objects["event"]
            old = [k for k, e in events.items() if e["created"] <= floor]
            for k in old:
                del events[k]
            new = sorted(self._new_events, key=lambda e: (e["created"], e["id"]))
            self._new_events = []
            return new

    # ------------------------------------------------------------ machinery

    def _at(self, t: int, fn: Callable[..., None], *args: Any) -> None:
        # The queue holds plain functions, not bound methods: an Account must not refer
        # to itself, so that it is freed by reference counting even when the heap is
        # frozen (see _no_gc).
        self._seq += 1
        heapq.heappush(self._queue, (t, self._seq, fn.__func__, args))  # type: ignore[attr-defined]

    def _run_until(self, t_end: int) -> None:
        q = self._queue
        pop = heapq.heappop
        floor = self._event_floor
        # Before the event window nothing refers to a past state of an object, so changes
        # are made in place and subscriptions re-rendered once, when the window opens.
        while q and q[0][0] <= min(t_end, floor):
            t, _, fn, args = pop(q)
            fn(self, t, *args)
        self._flush()
        while q and q[0][0] <= t_end:
            t, _, fn, args = pop(q)
            fn(self, t, *args)
        self._flush()

    def _flush(self) -> None:
        subs = self.objects["subscription"]
        for s in self._dirty:
            subs[s.id] = self._sub_obj(s)
        self._dirty.clear()

    def _sort_new(self, marks: dict[str, int]) -> None:
        """Creation order = ascending (created, id) among the objects added since `marks`.

        Objects are added in time order, so only ties (same second) are out of order;
        the new tail is re-inserted sorted, without touching the older objects unless a
        new object sorts before one of them."""
        for r, d in self.objects.items():
            n = marks.get(r, 0)
            if len(d) - n < 2:
                continue
            tail_keys = list(islice(d, n, None))
            tail = sorted(((k, d[k]) for k in tail_keys), key=_creation_key)
            if [k for k, _ in tail] == tail_keys:
                continue
            if n:
                head_last = next(islice(d.items(), n - 1, n))
                if _creation_key(tail[0]) < _creation_key(head_last):
                    items = sorted(d.items(), key=_creation_key)
                    d.clear()
                    d.update(items)
                    continue
            for k in tail_keys:
                del d[k]
            d.update(tail)

    def _emit(self, t: int, etype: str, obj: Obj, previous: Obj | None = None) -> None:
        if t <= self._event_floor:
            return
        eid = self._ids.new("evt")
        ev = event_obj(eid, etype, t, obj, previous)
        self.objects["event"][eid] = ev
        self._new_events.append(ev)

    def _put(self, resource: str, obj: Obj) -> None:
        self.objects[resource][obj["id"]] = obj

    def _update(self, t: int, resource: str, oid: str, etype: str | None, **changes: Any) -> Obj:
        """Copy-on-write update of a stored object, with its event and previous_attributes."""
        old = self.objects[resource][oid]
        if t <= self._event_floor:
            old.update(changes)
            return old
        new = dict(old)
        new.update(changes)
        self.objects[resource][oid] = new
        if etype is not None and t > self._event_floor:
            prev = {k: old.get(k) for k in changes if old.get(k) != changes[k]}
            self._emit(t, etype, new, prev)
        return new

    # ------------------------------------------------------------ generation

    def _generate(self) -> None:
        r = self._rng
        cat = self._cat
        for oid, prod in cat.products.items():
            self._put("product", prod)
            self._emit(cat.created[oid], "product.created", prod)
        for p in cat.prices.values():
            self._put("price", p.obj)
            if p.kind == "legacy":
                self._put("plan", p.plan_obj)
        for c in cat.coupons.values():
            self._put("coupon", c.obj)
        span = self.end - self.start
        # Signups: density grows linearly over the history (a growing business).
        arrivals = sorted(
            self.start + int(span * (r.random() ** 0.5)) for _ in range(self.customers)
        )
        for i, t in enumerate(arrivals):
            delay = None
            if r.random() < 0.03:
                # some subscribe exactly at a month boundary: their renewals hit month ends
                d = datetime.fromtimestamp(t, UTC)
                boundary = int(d.replace(day=1, hour=0, minute=0, second=0).timestamp())
                t, delay = boundary - 600, 600
            self._at(t, self._signup, i, delay)
        self._arrival_rate = 2.0 * self.customers / max(span, DAY)
        self._at(self.end + self._gap(), self._signup, -1)
        # Catalog changes shortly before the end, so the event stream carries some.
        self._at(self.end - 20 * DAY + 3 * 3600, self._catalog_launch)
        self._at(self.end - 8 * DAY + 5 * 3600, self._catalog_update)
        self._run_until(self.end)
        self._sort_new({})

    def _gap(self) -> int:
        if self._arrival_rate <= 0:
            return 10 * DAY
        return max(60, int(self._rng.expovariate(self._arrival_rate)))

    def _catalog_launch(self, t: int) -> None:
        pid = self._ids.new("prod")
        from etl.sandbox.simulation.catalog import product_obj

        prod = product_obj(pid, "Enterprise", t, "For large teams", None)
        self._put("product", prod)
        self._emit(t, "product.created", prod)
        for cur, amt in (("usd", 99900), ("eur", 94900), ("gbp", 84900)):
            p = Price(
                self._ids.new("price"),
                pid,
                "Enterprise",
                cur,
                amt,
                "month",
                1,
                "licensed",
                "enterprise",
                3,
                f"Enterprise Monthly {cur.upper()}",
            )
            p.obj = price_obj(p, t)
            self._cat.prices[p.id] = p
            self._cat.index[("enterprise", "Enterprise", "month", 1, cur)] = p
            self._put("price", p.obj)
            self._emit(t, "price.created", p.obj)
        self._update(t, "product", pid, "product.updated", default_price=p.id, updated=t)

    def _catalog_update(self, t: int) -> None:
        growth = self._cat.price("flat", "Growth", "month", 1, "usd")
        self._update(
            t,
            "product",
            growth.product,
            "product.updated",
            description="The Growth plan, now with SSO",
            updated=t,
        )
        legacy = self._cat.price("legacy", "Basic", "month", 1, "usd")
        # Prices are shared with the subscription items that embed them: replace the
        # catalog's dict so new renderings pick the change up.
        new = self._update(t, "price", legacy.id, "price.updated", active=False)
        legacy.obj = new
        plan = dict(legacy.plan_obj)
        plan["active"] = False
        legacy.plan_obj = plan
        self.objects["plan"][legacy.id] = plan
        self._emit(t, "plan.updated", plan, {"active": True})

    # ------------------------------------------------------------ customers

    def _new_customer(self, t: int) -> _Cust:
        r = self._rng
        idx = len(self._custs)
        cur = _weighted(r, (("usd", 65), ("eur", 22), ("gbp", 13)))
        country = _weighted(r, _COUNTRIES[cur])
        first, last = r.choice(_FIRST), r.choice(_LAST)
        company = r.choice(_COMPANY)
        email = f"{first}.{last}.{idx + 1}@{company}.example".lower()
        state = r.choice(_US_STATES) if country == "US" else None
        address = {
            "city": r.choice(_CITIES[country]),
            "country": country,
            "line1": f"{r.randint(1, 999)} {r.choice(_LAST)} Street",
            "line2": None,
            "postal_code": f"{r.randint(10000, 99999)}",
            "state": state,
        }
        metadata: Obj = {}
        if r.random() < 0.4:
            metadata = {"extra_id": f"acct-{idx + 1:06d}"}
        tax = self._cat.tax_rates.get(country) if r.random() < 0.3 else None
        cid = self._ids.new("cus")
        c = _Cust(
            cid,
            idx,
            cur,
            country,
            tax,
            email,
            f"{first} {last}",
            f"+1555{r.randint(1000000, 9999999)}" if r.random() < 0.5 else None,
            address,
            metadata,
            cid[4:11].upper(),
            t,
        )
        self._custs.append(c)
        obj = self._customer_obj(c)
        self._put("customer", obj)
        self._emit(t, "customer.created", obj)
        return c

    def _customer_obj(self, c: _Cust) -> Obj:
        return customer_obj(
            c.id,
            c.created,
            c.email,
            c.name,
            c.phone,
            c.address,
            c.currency,
            c.metadata,
            c.prefix,
            c.balance,
            c.seq,
            "none",
        )

    def _signup(self, t: int, i: int, delay: int | None = None) -> None:
        r = self._rng
        if i < 0:  # after the end: keep customers coming, at the latest rate
            self._at(t + self._gap(), self._signup, -1)
        c = self._new_customer(t)
        self._at(t + (delay if delay is not None else r.randint(5, 600)), self._start_sub, c, False)
        if r.random() < 0.05:
            self._at(t + r.randint(10, 200) * DAY, self._second_sub, c)
        if r.random() < 0.12:
            self._at(t + r.randint(2, 700) * DAY + r.randint(0, DAY), self._customer_update, c)

    def _second_sub(self, t: int, c: _Cust) -> None:
        if not c.deleted and c.active_subs > 0:
            self._start_sub(t, c, False, second=True)

    def _customer_update(self, t: int, c: _Cust) -> None:
        if c.deleted:
            return
        r = self._rng
        old = self.objects["customer"][c.id]
        what = r.random()
        if what < 0.4:
            c.name = c.name + " Jr." if not c.name.endswith("Jr.") else c.name[:-4]
            self._update(t, "customer", c.id, "customer.updated", name=c.name)
        elif what < 0.7:
            c.metadata = {**c.metadata, "extra_id": f"crm-{c.idx + 1:06d}"}
            self._update(t, "customer", c.id, "customer.updated", metadata=c.metadata)
        else:
            c.phone = f"+1555{r.randint(1000000, 9999999)}"
            self._update(t, "customer", c.id, "customer.updated", phone=c.phone)
        del old

    def _delete_customer(self, t: int, c: _Cust) -> None:
        if c.deleted or c.active_subs > 0:
            return
        c.deleted = True
        obj = dict(self.objects["customer"][c.id])
        obj["_deleted"] = True
        self.objects["customer"][c.id] = obj
        # Stripe's customer.deleted event carries the customer as it was.
        public = {k: v for k, v in obj.items() if not k.startswith("_")}
        self._emit(t, "customer.deleted", public)

    def _customer_field(self, t: int, c: _Cust, **changes: Any) -> None:
        """Silent bookkeeping changes of the customer (balance, invoice sequence)."""
        self._update(t, "customer", c.id, None, **changes)

    # ------------------------------------------------------------ subscriptions

    def _choose_items(
        self, c: _Cust, t: int, returning: bool, second: bool
    ) -> tuple[list[tuple[Price, int]], Price | None]:
        r = self._rng
        cur = c.currency
        cat = self._cat
        if second:
            kind = _weighted(r, (("weekly", 40), ("addon", 60)))
        else:
            early = t < self.start + (self.end - self.start) * 0.4
            kind = _weighted(
                r,
                (
                    ("flat", 66),
                    ("seat", 13),
                    ("free", 6),
                    ("weekly", 3),
                    ("legacy", 12 if early and not returning else 0),
                ),
            )
        if kind == "flat":
            tier = _weighted(r, (("Starter", 50), ("Growth", 35), ("Scale", 15)))
            interval, count = _weighted(
                r, ((("month", 1), 70), (("month", 3), 10), (("year", 1), 20))
            )
            items = [(cat.price("flat", tier, interval, count, cur), 1)]
        elif kind == "seat":
            interval = "month" if r.random() < 0.75 else "year"
            items = [(cat.price("seat", "Seat", interval, 1, cur), r.randint(2, 25))]
        elif kind == "free":
            items = [(cat.price("free", "Free", "month", 1, cur), 1)]
        elif kind == "weekly":
            items = [(cat.price("weekly", "Weekly", "week", 1, cur), 1)]
        elif kind == "addon":
            items = [(cat.price("addon", "Support", "month", 1, cur), 1)]
        else:
            name, interval = _weighted(
                r, ((("Basic", "month"), 45), (("Pro", "month"), 40), (("Pro", "year"), 15))
            )
            items = [(cat.price("legacy", name, interval, 1, cur), 1)]
        metered = None
        p0 = items[0][0]
        if p0.interval == "month" and p0.interval_count == 1 and kind in ("flat", "seat"):
            x = r.random()
            if x < 0.10:
                items.append((cat.price("addon", "Support", "month", 1, cur), 1))
            elif x < 0.18:
                metered = cat.price("metered", "API", "month", 1, cur)
        return items, metered

    def _start_sub(self, t: int, c: _Cust, returning: bool, second: bool = False) -> None:
        """Decides the subscription now; creates it at the first instant whose billing
        anchor falls on a day 1–28 (at most a few days later)."""
        if c.deleted:
            return
        r = self._rng
        items_spec, metered_price = self._choose_items(c, t, returning, second)
        p0 = items_spec[0][0]
        paid = p0.unit_amount > 0
        trial = paid and not returning and not second and r.random() < 0.3
        coupon: Coupon | None = None
        if paid and r.random() < 0.14:
            choices = [
                k for k, cp in self._cat.coupons.items() if cp.currency in (None, c.currency)
            ]
            cp = self._cat.coupons[r.choice(sorted(choices))]
            single = len(items_spec) == 1 and metered_price is None
            if (cp.amount_off is None or single) and not (cp.duration == "once" and trial):
                coupon = cp
        anchor = t + 14 * DAY if trial else t
        d = datetime.fromtimestamp(anchor, UTC)
        if d.day > 28:
            t += (calendar.monthrange(d.year, d.month)[1] - d.day + 1) * DAY
        self._at(t, self._create_sub, c, items_spec, metered_price, trial, coupon, returning)

    def _create_sub(
        self,
        t: int,
        c: _Cust,
        items_spec: list[tuple[Price, int]],
        metered_price: Price | None,
        trial: bool,
        coupon: Coupon | None,
        returning: bool,
    ) -> None:
        if c.deleted:
            return
        r = self._rng
        p0 = items_spec[0][0]
        paid = p0.unit_amount > 0
        anchor = t + 14 * DAY if trial else t
        sid = self._ids.new("sub")
        tl = SubTimeline(sid, c.id, c.currency, t)
        self.timelines[sid] = tl
        items = []
        for p, q in items_spec:
            it = _Item(self._ids.new("si"), p, q, t)
            items.append(it)
            tl.items[it.id] = [(t, p.id, q)]
        metered = None
        if metered_price is not None:
            metered = _Item(self._ids.new("si"), metered_price, 0, t)
        s = _Sub(sid, c, t, anchor, items, metered, tl)
        s.changes_allowed = coupon is None
        self._subs[sid] = s
        c.active_subs += 1
        c.subs += 1
        if coupon is not None:
            s.coupon = coupon
            s.discount_id = self._ids.new("di")
            tl.coupon = coupon.id
            tl.discount_start = t
            if coupon.duration == "repeating":
                tl.discount_end = add_months(t, coupon.duration_in_months or 1)
            s.discount_live = True
            disc = discount_obj(s.discount_id, coupon.obj, c.id, sid, t, tl.discount_end)
            self._put("discount", disc)
            self._emit(t, "customer.discount.created", disc)
            self._update(
                t,
                "coupon",
                coupon.id,
                None,
                times_redeemed=self.objects["coupon"][coupon.id]["times_redeemed"] + 1,
            )
        if trial:
            s.status = "trialing"
            s.trial_start, s.trial_end = t, anchor
            s.period_start, s.period_end = t, anchor
            tl.status_history.append((t, "trialing"))
            self._put("subscription", self._sub_obj(s))
            self._emit(t, "customer.subscription.created", self.objects["subscription"][sid])
            lines = [self._line_spec_cycle(s, it, t, anchor, trial=True) for it in s.items]
            inv, fact = self._invoice(t, s.cust, s, lines, "subscription_create", t, t, first=True)
            for it in s.items:
                tl.periods.append(Period(it.id, it.price.id, it.qty, t, anchor, fact, trial=True))
            self._finalize(t, inv, s, fail=False)
            self._sync_sub(t, s, latest_invoice=inv)
            self._at(anchor - 3 * DAY, self._trial_will_end, s)
            if r.random() < 0.22:  # the trial does not convert
                self._at(t + r.randint(1, 13) * DAY, self._cancel_request, s, "period_end")
            self._at(anchor, self._renew, s)
            return
        s.status = "active"
        tl.status_history.append((t, "active"))
        e = add_interval(t, p0.interval or "month", p0.interval_count)
        s.period_start, s.period_end = t, e
        self._put("subscription", self._sub_obj(s))
        self._emit(t, "customer.subscription.created", self.objects["subscription"][sid])
        lines = [self._line_spec_cycle(s, it, t, e) for it in s.items]
        if not returning and paid and r.random() < 0.2:
            setup = self._cat.price("one_time", "Setup", None, 1, c.currency)
            lines.append(self._invoice_item(t, s, setup, 1, setup.unit_amount, t, t, "Setup fee"))
        inv, fact = self._invoice(t, s.cust, s, lines, "subscription_create", t, t, first=True)
        for it in s.items:
            tl.periods.append(Period(it.id, it.price.id, it.qty, t, e, fact))
        self._finalize(t, inv, s, fail=False)
        self._sync_sub(t, s, latest_invoice=inv)
        self._plan_period(t, s, t + 60)
        self._at(e, self._renew, s)

    def _trial_will_end(self, t: int, s: _Sub) -> None:
        if s.status == "trialing" and not s.cancel_at_period_end:
            self._emit(
                t, "customer.subscription.trial_will_end", self.objects["subscription"][s.id]
            )

    def _sub_obj(self, s: _Sub) -> Obj:
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

    def _sync_sub(
        self,
        t: int,
        s: _Sub,
        latest_invoice: str | None = None,
        etype: str = "customer.subscription.updated",
    ) -> None:
        if latest_invoice is not None:
            s.latest_invoice = latest_invoice
        if t <= self._event_floor:
            self._dirty[s] = None
            return
        old = self.objects["subscription"][s.id]
        new = self._sub_obj(s)
        self.objects["subscription"][s.id] = new
        if t > self._event_floor:
            prev = {k: v for k, v in old.items() if new.get(k) != v}
            if prev:
                self._emit(t, etype, new, prev if etype.endswith("updated") else None)

    def _set_status(self, t: int, s: _Sub, status: str) -> None:
        if s.status != status:
            s.status = status
            s.tl.status_history.append((t, status))

    # ------------------------------------------------------------ invoices

    def _line_spec_cycle(
        self, s: _Sub, it: _Item, start: int, end: int, trial: bool = False
    ) -> dict[str, Any]:
        p = it.price
        name = p.nickname or p.product_name
        if trial:
            desc = f"Trial period for {p.product_name}"
            amount = 0
        else:
            desc = f"{it.qty} × {p.product_name} (at {p.unit_amount / 100:.2f} {p.currency.upper()} / {p.interval})"
            amount = p.unit_amount * it.qty
        del name
        return {
            "kind": "cycle",
            "price": p,
            "qty": it.qty,
            "amount": amount,
            "start": start,
            "end": end,
            "desc": desc,
            "si": it.id,
            "ii": None,
            "proration": False,
            "discountable": True,
            "credited": None,
            "item": it,
            "change": None,
        }

    def _invoice_item(
        self,
        t: int,
        s: _Sub | None,
        price: Price,
        qty: int,
        amount: int,
        start: int,
        end: int,
        desc: str,
        si: str | None = None,
        proration: bool = False,
        credited: tuple[str, str] | None = None,
        change: Change | None = None,
    ) -> dict[str, Any]:
        """Creates the invoice item object (pending) and returns its line spec."""
        ii = self._ids.new("ii")
        cust = s.cust if s is not None else None
        assert cust is not None
        obj = invoiceitem_obj(
            ii,
            cust.id,
            cust.currency,
            amount,
            t,
            desc,
            start,
            end,
            qty,
            price.id,
            price.product,
            price.unit_amount,
            s.id if s is not None else None,
            si,
            proration,
            proration or price.kind != "one_time",
            None,
        )
        self._put("invoiceitem", obj)
        self._emit(t, "invoiceitem.created", obj)
        return {
            "kind": "proration" if proration else "item",
            "price": price,
            "qty": qty,
            "amount": amount,
            "start": start,
            "end": end,
            "desc": desc,
            "si": si,
            "ii": ii,
            "proration": proration,
            "discountable": proration,
            "credited": credited,
            "item": None,
            "change": change,
        }

    def _coupon_applies(self, s: _Sub, t: int) -> bool:
        c = s.coupon
        if c is None:
            return False
        if c.duration == "forever":
            return True
        if c.duration == "once":
            return s.n_invoices == 0
        return s.tl.discount_end is not None and t < s.tl.discount_end

    def _invoice(
        self,
        t: int,
        c: _Cust,
        s: _Sub | None,
        specs: list[dict[str, Any]],
        reason: str,
        period_start: int,
        period_end: int,
        first: bool = False,
    ) -> tuple[str, InvoiceFact]:
        inv_id = self._ids.new("in")
        cur = c.currency
        applies = s is not None and self._coupon_applies(s, t)
        coupon = s.coupon if (s is not None and applies) else None
        did = s.discount_id if coupon is not None and s is not None else None
        amount_left = coupon.amount_off if coupon is not None and coupon.amount_off else 0
        lines = []
        subtotal = disc_total = tax_total = 0
        tax = c.tax
        for sp in specs:
            amount = sp["amount"]
            disc = 0
            if coupon is not None and sp["discountable"] and amount > 0:
                if coupon.percent_off is not None:
                    pct = coupon.percent_off
                    disc = (amount * pct * 2 + 100) // 200  # round half up of amount × pct / 100
                elif sp["kind"] == "cycle" and amount_left > 0:
                    disc = min(amount_left, amount)
                    amount_left -= disc
            net = amount - disc
            taxes: list[Obj] = []
            if tax is not None and amount != 0:
                tx = (abs(net) * tax.percentage * 2 + 100) // 200
                tx = tx if net >= 0 else -tx
                taxes = [
                    {
                        "amount": tx,
                        "tax_behavior": "exclusive",
                        "tax_rate_details": {"tax_rate": tax.id},
                        "taxability_reason": "standard_rated",
                        "taxable_amount": net,
                        "type": "tax_rate_details",
                    }
                ]
                tax_total += tx
            p: Price = sp["price"]
            lid = self._ids.new("il")
            cred = None
            if sp["credited"] is not None:
                cred = {"invoice": sp["credited"][0], "invoice_line_items": [sp["credited"][1]]}
            lines.append(
                line_obj(
                    self._cache,
                    lid,
                    inv_id,
                    cur,
                    amount,
                    sp["desc"],
                    sp["start"],
                    sp["end"],
                    sp["qty"],
                    p.id,
                    p.product,
                    p.unit_amount,
                    s.id if s is not None else None,
                    sp["si"],
                    sp["ii"],
                    sp["proration"],
                    sp["discountable"],
                    [{"amount": disc, "discount": did}] if disc else [],
                    taxes,
                    cred,
                )
            )
            if sp["item"] is not None:
                sp["item"].last_line = (inv_id, lid)
            subtotal += amount
            disc_total += disc
        if s is not None:
            s.n_invoices += 1
        total_excl = subtotal - disc_total
        total = total_excl + tax_total
        starting = c.balance
        x = total + starting
        amount_due = max(0, x)
        if min(0, x) != c.balance:
            c.balance = min(0, x)
            self._update(t, "customer", c.id, "customer.updated", balance=c.balance)
        total_taxes: list[Obj] = []
        if tax is not None and any(ln["taxes"] for ln in lines):
            total_taxes = [
                {
                    "amount": tax_total,
                    "tax_behavior": "exclusive",
                    "tax_rate_details": {"tax_rate": tax.id},
                    "taxability_reason": "standard_rated",
                    "taxable_amount": total_excl,
                    "type": "tax_rate_details",
                }
            ]
        obj = invoice_obj(
            self._cache,
            inv_id,
            self.objects["customer"][c.id],
            s.id if s is not None else None,
            cur,
            t,
            reason,
            lines,
            period_start,
            period_end,
            [did] if did and disc_total else [],
            [{"amount": disc_total, "discount": did}] if disc_total else [],
            total_taxes,
            subtotal,
            total_excl,
            total,
            starting,
            amount_due,
        )
        obj["ending_balance"] = min(0, x)
        self._put("invoice", obj)
        self._emit(t, "invoice.created", obj)
        fact = InvoiceFact(inv_id, t, first)
        self.invoice_facts[inv_id] = fact
        # the pending items are now on this invoice
        for sp in specs:
            if sp["ii"] is not None:
                self._update(t, "invoiceitem", sp["ii"], None, invoice=inv_id)
            if sp["change"] is not None:
                sp["change"].invoice = fact
        return inv_id, fact

    def _finalize(
        self, t: int, inv_id: str, s: _Sub | None, fail: bool, next_attempt: int | None = None
    ) -> None:
        c = s.cust if s is not None else None
        assert c is not None
        number = f"{c.prefix}-{c.seq:04d}"
        c.seq += 1
        self._customer_field(t, c, next_invoice_sequence=c.seq)
        inv = self.objects["invoice"][inv_id]
        st = dict(inv["status_transitions"], finalized_at=t)
        self._update(
            t,
            "invoice",
            inv_id,
            None,
            status="open",
            number=number,
            status_transitions=st,
            effective_at=t,
            automatically_finalizes_at=None,
        )
        self._emit(t, "invoice.finalized", self.objects["invoice"][inv_id])
        self.invoice_facts[inv_id].status = "open"
        if fail and inv["amount_due"] > 0:
            self._update(
                t,
                "invoice",
                inv_id,
                "invoice.payment_failed",
                attempt_count=1,
                attempted=True,
                next_payment_attempt=next_attempt,
            )
            return
        self._pay(t, inv_id)

    def _pay(self, t: int, inv_id: str) -> None:
        inv = self.objects["invoice"][inv_id]
        amt = inv["amount_due"]
        changes: dict[str, Any] = {
            "status": "paid",
            "amount_paid": amt,
            "amount_remaining": 0,
            "attempted": True,
            "attempt_count": inv["attempt_count"] + (1 if amt > 0 else 0),
            "next_payment_attempt": None,
            "status_transitions": dict(inv["status_transitions"], paid_at=t),
        }
        if amt > 0:
            pi = self._ids.new("pi")
            ch = "ch_" + pi[3:]  # a payment intent's charge (Stripe ids share the suffix too)
            ip = invoice_payment_obj("inpay_" + pi[3:], inv_id, inv["currency"], amt, t, pi)
            changes["payments"] = dict(inv["payments"], data=[ip])
            self.charges[ch] = inv_id
            self._inv_meta[inv_id] = (ch, pi, amt)
            r = self._rng
            x = r.random()
            if x < 0.012:
                self._at(t + r.randint(1, 20) * DAY + r.randint(0, DAY), self._credit_note, inv_id)
            elif x < 0.02:
                self._at(t + r.randint(1, 10) * DAY + r.randint(0, DAY), self._refund, inv_id)
        self._update(t, "invoice", inv_id, None, **changes)
        new = self.objects["invoice"][inv_id]
        self._emit(t, "invoice.paid", new)
        self._emit(t, "invoice.payment_succeeded", new)
        fact = self.invoice_facts[inv_id]
        fact.paid_at = t
        fact.status = "paid"

    def _refund(
        self, t: int, inv_id: str, full_share: float = 0.5, part: int = 2
    ) -> tuple[str, int]:
        """Refund the invoice's payment, in full or in part; returns (refund id, amount)."""
        ch, pi, amt = self._inv_meta[inv_id]
        inv = self.objects["invoice"][inv_id]
        amount = amt if self._rng.random() < full_share else max(1, amt // part)
        rid = self._ids.new("re")
        ref = refund_obj(
            rid, amount, inv["currency"], t, ch, pi, inv["customer"], "requested_by_customer"
        )
        self._put("refund", ref)
        self._emit(t, "refund.created", ref)
        return rid, amount

    def _credit_note(self, t: int, inv_id: str) -> None:
        """A credit note on a paid invoice, refunded to the card (one per invoice)."""
        inv = self.objects["invoice"][inv_id]
        rid, amount = self._refund(t, inv_id, full_share=0.4, part=3)
        cnid = self._ids.new("cn")
        number = f"{inv['number']}-CN-01"
        line_id = inv["lines"]["data"][0]["id"]
        cn = credit_note_obj(cnid, number, inv, amount, t, line_id, rid, "product_unsatisfactory")
        self._put("credit_note", cn)
        self._emit(t, "credit_note.created", cn)
        self._update(
            t,
            "invoice",
            inv_id,
            "invoice.updated",
            post_payment_credit_notes_amount=inv["post_payment_credit_notes_amount"] + amount,
        )

    # ------------------------------------------------------------ lifecycle

    def _renew(self, t: int, s: _Sub) -> None:
        """Period boundary: end the subscription, or start the next period and invoice it."""
        if s.status in ("canceled",):
            return
        tl = s.tl
        if s.cancel_at_period_end:
            self._end_sub(t, s, "cancellation_requested")
            return
        r = self._rng
        p0 = s.items[0].price
        start = t
        end = add_interval(t, p0.interval or "month", p0.interval_count)
        if s.status == "trialing":
            self._set_status(t, s, "active")
        prev_start = s.period_start
        s.prev_period_start = prev_start
        s.period_start, s.period_end = start, end
        specs = [self._line_spec_cycle(s, it, start, end) for it in s.items]
        if s.metered is not None and prev_start < t and s.trial_end != t:
            usage = r.randint(200, 20000)
            m = s.metered.price
            specs.append(
                {
                    "kind": "metered",
                    "price": m,
                    "qty": usage,
                    "amount": usage * m.unit_amount,
                    "start": prev_start,
                    "end": t,
                    "desc": f"{usage} × {m.product_name} (at {m.unit_amount / 100:.2f} {m.currency.upper()} / call)",
                    "si": s.metered.id,
                    "ii": None,
                    "proration": False,
                    "discountable": True,
                    "credited": None,
                    "item": None,
                    "change": None,
                }
            )
        specs.extend(self._take_pending(s))
        if s.discount_live and not self._coupon_applies(s, t):
            s.discount_live = False  # used up: Stripe removes it from the subscription
            if s.discount_id is not None:
                self._emit(t, "customer.discount.deleted", self.objects["discount"][s.discount_id])
        # Stripe: a renewal invoice's period is the one that just ended (when its pending
        # items accrued); the lines carry the service period.
        inv, fact = self._invoice(t, s.cust, s, specs, "subscription_cycle", prev_start, t)
        for it in s.items:
            tl.periods.append(Period(it.id, it.price.id, it.qty, start, end, fact))
        self._sync_sub(t, s, latest_invoice=inv)
        amount_due = self.objects["invoice"][inv]["amount_due"]
        weekly = p0.interval == "week"
        fail = amount_due > 0 and not weekly and r.random() < 0.08
        fin = t + 3600
        lo = fin + 60
        attempts: list[int] = []
        k = 0
        if fail:
            # Retries 3, 5 and 7 days after the first attempt; one of them succeeds, or
            # after 15 days the invoice is given up and the subscription canceled.
            attempts = [fin + d * DAY + r.randint(0, 3600) for d in (3, 5, 7)]
            k = r.randrange(3) if r.random() < 0.55 else 3
        self._at(fin, self._finalize_renewal, s, inv, fail, attempts[0] if attempts else None)
        if fail:
            for i in range(k):
                nxt = attempts[i + 1] if i + 1 < len(attempts) else None
                self._at(attempts[i], self._retry_failed, inv, nxt)
            if k < 3:
                self._at(attempts[k], self._recover, s, inv)
                lo = attempts[k] + 60
            else:
                self._at(fin + 15 * DAY, self._give_up, s, inv, r.random() < 0.3)
                self._at(end, self._renew, s)
                return
        self._plan_period(lo, s, lo)
        self._at(end, self._renew, s)

    def _finalize_renewal(
        self, t: int, s: _Sub, inv: str, fail: bool, next_attempt: int | None
    ) -> None:
        self._finalize(t, inv, s, fail, next_attempt)
        if fail:
            self._set_status(t, s, "past_due")
            self._sync_sub(t, s)

    def _retry_failed(self, t: int, inv: str, next_attempt: int | None) -> None:
        if self.invoice_facts[inv].status != "open":
            return
        old = self.objects["invoice"][inv]
        self._update(
            t,
            "invoice",
            inv,
            None,
            attempt_count=old["attempt_count"] + 1,
            next_payment_attempt=next_attempt,
        )
        self._emit(t, "invoice.payment_failed", self.objects["invoice"][inv])

    def _recover(self, t: int, s: _Sub, inv: str) -> None:
        if self.invoice_facts[inv].status != "open":
            return
        self._pay(t, inv)
        if s.status == "past_due":
            self._set_status(t, s, "active")
            self._sync_sub(t, s)

    def _give_up(self, t: int, s: _Sub, inv: str, void: bool) -> None:
        fact = self.invoice_facts[inv]
        if fact.status != "open":
            return
        old = self.objects["invoice"][inv]
        if void:
            self._update(
                t,
                "invoice",
                inv,
                None,
                status="void",
                amount_remaining=0,
                status_transitions=dict(old["status_transitions"], voided_at=t),
                next_payment_attempt=None,
            )
            self._emit(t, "invoice.voided", self.objects["invoice"][inv])
            fact.status = "void"
        else:
            self._update(
                t,
                "invoice",
                inv,
                None,
                status="uncollectible",
                status_transitions=dict(old["status_transitions"], marked_uncollectible_at=t),
                next_payment_attempt=None,
            )
            self._emit(t, "invoice.marked_uncollectible", self.objects["invoice"][inv])
            fact.status = "uncollectible"
        s.canceled_at = t
        self._end_sub(t, s, "payment_failed")

    def _end_sub(self, t: int, s: _Sub, reason: str) -> None:
        s.ended_at = t
        if s.canceled_at is None:
            s.canceled_at = t
        s.cancel_reason = reason
        self._set_status(t, s, "canceled")
        s.tl.cancellations.append((s.canceled_at, t, "ended"))
        if t <= self._event_floor:
            self._dirty[s] = None
        else:
            new = self._sub_obj(s)
            self.objects["subscription"][s.id] = new
            self._emit(t, "customer.subscription.deleted", new)
        c = s.cust
        c.active_subs -= 1
        if c.active_subs == 0 and not c.deleted:
            r = self._rng
            x = r.random()
            if x < 0.22:
                self._at(t + r.randint(45, 300) * DAY + r.randint(0, DAY), self._return, c)
            elif x < 0.36:
                self._at(t + r.randint(3, 90) * DAY + r.randint(0, DAY), self._delete_customer, c)

    def _return(self, t: int, c: _Cust) -> None:
        if not c.deleted and c.active_subs == 0:
            self._start_sub(t, c, True)

    def _take_pending(self, s: _Sub) -> list[dict[str, Any]]:
        out = []
        for pd in s.pending:
            out.append(
                {
                    "kind": "proration" if pd.proration else "item",
                    "price": pd.price,
                    "qty": pd.qty,
                    "amount": pd.amount,
                    "start": pd.start,
                    "end": pd.end,
                    "desc": pd.desc,
                    "si": pd.si,
                    "ii": pd.ii,
                    "proration": pd.proration,
                    "discountable": pd.proration,
                    "credited": pd.credited,
                    "item": None,
                    "change": pd.change,
                }
            )
        s.pending = []
        return out

    def _plan_period(self, lo: int, s: _Sub, _unused: int) -> None:
        """Decide what happens during the current period (after `lo`)."""
        r = self._rng
        start, end = s.period_start, s.period_end
        if end - lo < 2 * 3600:
            return
        p0 = s.items[0].price
        interval = (p0.interval or "month", p0.interval_count)
        p_cancel = {
            ("month", 1): 0.035,
            ("month", 3): 0.09,
            ("year", 1): 0.22,
            ("week", 1): 0.012,
        }.get(interval, 0.03)
        if p0.kind == "free":
            p_cancel = 0.05
        x = r.random()

        def when() -> int:
            return lo + int((end - lo - 3600) * r.random())

        if x < p_cancel:
            y = r.random()
            if y < 0.65:
                self._at(when(), self._cancel_request, s, "period_end")
            elif y < 0.85 and s.coupon is None:
                # (a proration credit for a discounted subscription is left out: the
                # simulation does not discount credits)
                self._at(when(), self._cancel_request, s, "immediate_prorate")
            else:
                self._at(when(), self._cancel_request, s, "immediate")
            return
        if not s.changes_allowed:
            if r.random() < 0.004:
                self._at(when(), self._one_off, s)
            return
        kind = p0.kind
        behavior = "always_invoice" if r.random() < 0.25 else "create_prorations"
        if kind == "seat":
            if r.random() < 0.14:
                n = 1 if r.random() < 0.8 else r.randint(2, 6)
                times = sorted(when() for _ in range(n))
                for tt in times:
                    self._at(tt, self._change, s, "quantity", behavior)
        elif kind in ("flat", "legacy", "free") and r.random() < (0.05 if kind != "free" else 0.08):
            self._at(when(), self._change, s, "plan", behavior)
        elif r.random() < 0.006:
            self._at(when(), self._one_off, s)
        del start

    def _one_off(self, t: int, s: _Sub) -> None:
        """Consulting hours, one invoice item each: an invoice with more than 10 lines."""
        if s.status == "canceled" or s.cancel_at_period_end:
            return
        r = self._rng
        p = self._cat.price("one_time", "Consulting", None, 1, s.cust.currency)
        for k in range(r.randint(11, 14)):
            spec = self._invoice_item(t, s, p, 1, p.unit_amount, t, t, f"Consulting hour {k + 1}")
            s.pending.append(
                _Pending(
                    spec["ii"], p, 1, p.unit_amount, t, t, spec["desc"], None, False, None, None
                )
            )

    def _change(self, t: int, s: _Sub, what: str, behavior: str) -> None:
        if s.status != "active" or s.cancel_at_period_end:
            return
        r = self._rng
        cat = self._cat
        it = s.items[0]
        old_p, old_q = it.price, it.qty
        new_p, new_q = old_p, old_q
        if what == "quantity":
            delta = r.choice((-3, -2, -1, 1, 1, 2, 3, 5))
            new_q = max(1, old_q + delta)
            if new_q == old_q:
                new_q = old_q + 1
        else:
            cur = s.cust.currency
            iv, n = old_p.interval or "month", old_p.interval_count
            if old_p.kind == "legacy" or old_p.kind == "free":
                tier = "Growth" if old_p.kind == "legacy" else "Starter"
                key = ("flat", tier, iv, n, cur)
            else:
                ti = old_p.tier
                ti = ti + 1 if (ti == 0 or (ti == 1 and r.random() < 0.6)) else ti - 1
                key = ("flat", TIER_ORDER[ti], iv, n, cur)
            if key not in cat.index:
                return
            new_p = cat.index[key]
        s_, e = s.period_start, s.period_end
        ch = Change(it.id, t, s_, e, old_p.id, old_q, new_p.id, new_q)
        s.tl.changes.append(ch)
        period = e - s_
        rem = e - t
        credit = -prorate(old_p.unit_amount * old_q, rem, period)
        charge = prorate(new_p.unit_amount * new_q, rem, period)
        day = datetime.fromtimestamp(t, UTC).strftime("%d %b %Y")
        specs: list[dict[str, Any]] = []
        if credit != 0:
            specs.append(
                self._invoice_item(
                    t,
                    s,
                    old_p,
                    old_q,
                    credit,
                    t,
                    e,
                    f"Unused time on {old_q} × {old_p.product_name} after {day}",
                    si=it.id,
                    proration=True,
                    credited=it.last_line,
                    change=ch,
                )
            )
        if charge != 0:
            specs.append(
                self._invoice_item(
                    t,
                    s,
                    new_p,
                    new_q,
                    charge,
                    t,
                    e,
                    f"Remaining time on {new_q} × {new_p.product_name} after {day}",
                    si=it.id,
                    proration=True,
                    change=ch,
                )
            )
        it.price, it.qty = new_p, new_q
        s.tl.items[it.id].append((t, new_p.id, new_q))
        if behavior == "always_invoice" and specs:
            specs = self._take_pending(s) + specs
            inv, _fact = self._invoice(t, s.cust, s, specs, "subscription_update", t, t)
            self._sync_sub(t, s, latest_invoice=inv)
            self._finalize(t, inv, s, fail=False)
        else:
            for sp in specs:
                s.pending.append(
                    _Pending(
                        sp["ii"],
                        sp["price"],
                        sp["qty"],
                        sp["amount"],
                        sp["start"],
                        sp["end"],
                        sp["desc"],
                        sp["si"],
                        True,
                        sp["credited"],
                        ch,
                    )
                )
            self._sync_sub(t, s)
        if not specs:
            ch.invoice = None

    def _cancel_request(self, t: int, s: _Sub, mode: str) -> None:
        if s.status == "canceled" or s.cancel_at_period_end:
            return
        if s.status == "past_due":
            return
        if mode == "period_end":
            s.cancel_at_period_end = True
            s.canceled_at = t
            s.cancel_reason = "cancellation_requested"
            s.tl.cancellations.append((t, s.period_end, "period_end"))
            self._sync_sub(t, s)
            return
        # immediate cancellation, with or without a proration credit for unused time
        if mode == "immediate_prorate" and s.status == "active":
            specs = self._take_pending(s)
            s_, e = s.period_start, s.period_end
            day = datetime.fromtimestamp(t, UTC).strftime("%d %b %Y")
            for it in s.items:
                amt = -prorate(it.price.unit_amount * it.qty, e - t, e - s_)
                ch = Change(it.id, t, s_, e, it.price.id, it.qty, None, 0)
                s.tl.changes.append(ch)
                if amt != 0:
                    specs.append(
                        self._invoice_item(
                            t,
                            s,
                            it.price,
                            it.qty,
                            amt,
                            t,
                            e,
                            f"Unused time on {it.qty} × {it.price.product_name} after {day}",
                            si=it.id,
                            proration=True,
                            credited=it.last_line,
                            change=ch,
                        )
                    )
            if specs:
                inv, _ = self._invoice(t, s.cust, s, specs, "subscription_update", t, t)
                s.latest_invoice = inv
                self._finalize(t, inv, s, fail=False)
        s.canceled_at = t
        s.tl.cancellations.append((t, t, "immediate"))
        self._end_sub(t, s, "cancellation_requested")


def generate_account(
    seed: int = 1,
    customers: int = 200,
    months: int = 24,
    end: datetime | None = None,
) -> Account:
    """The simulated account: a deterministic function of the four arguments."""
    if customers < 0 or months < 1:
        raise ValueError("customers must be >= 0 and months >= 1")
    end_dt = DEFAULT_END if end is None else end
    if end_dt.tzinfo is None:
        end_dt = end_dt.replace(tzinfo=UTC)
    acct = Account(seed, customers, months, ts(end_dt))
    with acct.lock, _no_gc():
        acct._generate()
    return acct


@contextmanager
def _no_gc() -> Iterator[None]:
    """The simulation allocates millions of acyclic dicts: the cyclic collector would
    re-scan the growing heap again and again (most of the run time) for nothing.

    Afterwards the heap is frozen (`gc.freeze()`), so that later full collections skip
    the account too; the account holds no reference cycle, so dropping it still frees
    it (reference counting works on frozen objects)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def _main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Generate a sandbox account and print its size.")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--customers", type=int, default=10_000)
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--repeat", type=int, default=1)
    a = ap.parse_args(argv)
    for _ in range(a.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        acct = generate_account(a.seed, a.customers, a.months)
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        counts = {k: len(v) for k, v in acct.objects.items()}
        lines = sum(len(i["lines"]["data"]) for i in acct.objects["invoice"].values())
        print(
            f"generated {a.customers} customers × {a.months} months in {dt:.2f} s (CPU {cpu:.2f} s)"
        )
        print(
            "objects: "
            + ", ".join(f"{k}={v}" for k, v in counts.items())
            + f", invoice lines={lines}"
        )
        try:
            import resource

            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"peak RSS: {rss:.0f} MB")
        except ImportError:  # pragma: no cover - not on POSIX
            pass
    sys.stdout.flush()
    os._exit(0)  # skip freeing millions of objects one by one at exit


if __name__ == "__main__":
    sys.exit(_main())
