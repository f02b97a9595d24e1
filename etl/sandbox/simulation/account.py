"""The simulated account's state and the machinery every part of the simulation shares.

`Account` holds the Stripe objects (resource -> {id: object}, creation order), the
timelines the truth reads, and the simulation's state; it runs one priority queue of
timed actions in (time, sequence) order. The actions themselves are plain functions
in the modules of each concern (customers, lifecycle, changes, invoicing, dunning,
refunds) that take the account as their first argument: `Account.at(t, fn, *args)`
schedules `fn(account, t, *args)`.

Writes go through `put`, `update` and `emit`: copy-on-write inside the 30-day event
window (an event's `data.object` is the object as it was), in place before it, where
nothing refers to a past state of an object.
"""

from __future__ import annotations

import gc
import heapq
import random
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import islice
from typing import Any

from etl.sandbox.simulation.catalog import Catalog, TaxRate, build_catalog
from etl.sandbox.simulation.records import (
    CustomerState,
    InvoiceFact,
    SubscriptionState,
    SubTimeline,
    subscription_object,
)
from etl.sandbox.simulation.render import event_obj
from etl.sandbox.simulation.util import DAY, Ids, add_months, mix64

Obj = dict[str, Any]
# an action of the queue: called as action(account, t, *args)
Action = Callable[..., object]

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


def creation_key(kv: tuple[str, Obj]) -> tuple[int, str]:
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
        self.rng = random.Random(mix64(seed) ^ 0xACC0)
        self.ids = Ids(seed)
        self.event_floor = end - EVENT_WINDOW  # no event at or before this instant
        self.customer_states: list[CustomerState] = []
        self.subscription_states: dict[str, SubscriptionState] = {}
        self.payments: dict[str, tuple[str, str, int]] = {}  # invoice -> (charge, pi, amount)
        self.catalog: Catalog = build_catalog(self.ids, self.start)
        self.tax_rates: dict[str, TaxRate] = dict(self.catalog.tax_rates)
        self.arrival_rate = 0.0  # signups per second after the end (set by the generator)
        self.render_cache: dict[Any, Obj] = {}  # shared immutable nested dicts (render)
        self._queue: list[tuple[int, int, Action, tuple[Any, ...]]] = []
        self._seq = 0
        self._new_events: list[Obj] = []
        # insertion-ordered set of subscriptions whose object is stale (before the window)
        self._stale: dict[SubscriptionState, None] = {}

    # ------------------------------------------------------------ public

    @property
    def customer_count(self) -> int:
        return len(self.objects["customer"])

    def advance(self, days: int) -> list[Obj]:
        """Move the clock forward by `days`; returns the events created meanwhile."""
        if days < 0:
            raise ValueError("days must be >= 0")
        with self.lock, no_gc():
            marks = {r: len(d) for r, d in self.objects.items()}
            self._new_events = []
            target = self.now + int(days) * DAY
            self.run_until(target)
            self.now = target
            self.sort_new(marks)
            floor = self.now - EVENT_WINDOW
            events = self.objects["event"]
            old = [k for k, e in events.items() if e["created"] <= floor]
            for k in old:
                del events[k]
            new = sorted(self._new_events, key=lambda e: (e["created"], e["id"]))
            self._new_events = []
            return new

    # ------------------------------------------------------------ the queue

    def at(self, t: int, action: Action, *args: Any) -> None:
        """Schedule `action(account, t, *args)` at `t`.

        The queue holds plain functions, never bound methods: an Account must not refer
        to itself, so that it is freed by reference counting even when the heap is
        frozen (see no_gc)."""
        self._seq += 1
        heapq.heappush(self._queue, (t, self._seq, action, args))

    def drop_actions(self, after: int, until: int) -> None:
        """Forget the actions scheduled in (after, until]: nothing happens then."""
        kept = [a for a in self._queue if not after < a[0] <= until]
        heapq.heapify(kept)
        self._queue = kept

    def run_until(self, t_end: int) -> None:
        q = self._queue
        pop = heapq.heappop
        floor = self.event_floor
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
        for s in self._stale:
            subs[s.id] = subscription_object(s)
        self._stale.clear()

    def sort_new(self, marks: dict[str, int]) -> None:
        """Creation order = ascending (created, id) among the objects added since `marks`.

        Objects are added in time order, so only ties (same second) are out of order;
        the new tail is re-inserted sorted, without touching the older objects unless a
        new object sorts before one of them."""
        for r, d in self.objects.items():
            n = marks.get(r, 0)
            if len(d) - n < 2:
                continue
            tail_keys = list(islice(d, n, None))
            tail = sorted(((k, d[k]) for k in tail_keys), key=creation_key)
            if [k for k, _ in tail] == tail_keys:
                continue
            if n:
                head_last = next(islice(d.items(), n - 1, n))
                if creation_key(tail[0]) < creation_key(head_last):
                    items = sorted(d.items(), key=creation_key)
                    d.clear()
                    d.update(items)
                    continue
            for k in tail_keys:
                del d[k]
            d.update(tail)

    # ------------------------------------------------------------ writes

    def emit(self, t: int, etype: str, obj: Obj, previous: Obj | None = None) -> None:
        """An event about `obj` at `t`, if `t` is inside the event window."""
        if t <= self.event_floor:
            return
        eid = self.ids.new("evt")
        ev = event_obj(eid, etype, t, obj, previous)
        self.objects["event"][eid] = ev
        self._new_events.append(ev)

    def put(self, resource: str, obj: Obj) -> None:
        self.objects[resource][obj["id"]] = obj

    def update(self, t: int, resource: str, oid: str, etype: str | None, **changes: Any) -> Obj:
        """Copy-on-write update of a stored object, with its event and previous_attributes."""
        old = self.objects[resource][oid]
        if t <= self.event_floor:
            old.update(changes)
            return old
        new = dict(old)
        new.update(changes)
        self.objects[resource][oid] = new
        if etype is not None and t > self.event_floor:
            prev = {k: old.get(k) for k in changes if old.get(k) != changes[k]}
            self.emit(t, etype, new, prev)
        return new

    def sync_subscription(
        self,
        t: int,
        s: SubscriptionState,
        latest_invoice: str | None = None,
        etype: str = "customer.subscription.updated",
    ) -> None:
        """Re-render the subscription's object after a change of its state (with an event
        carrying the previous attributes, when anything visible changed)."""
        if latest_invoice is not None:
            s.latest_invoice = latest_invoice
        if t <= self.event_floor:
            self._stale[s] = None
            return
        old = self.objects["subscription"][s.id]
        new = subscription_object(s)
        self.objects["subscription"][s.id] = new
        if t > self.event_floor:
            prev = {k: v for k, v in old.items() if new.get(k) != v}
            if prev:
                self.emit(t, etype, new, prev if etype.endswith("updated") else None)

    def replace_subscription(self, t: int, s: SubscriptionState, etype: str) -> None:
        """Re-render the subscription's object, announced by `etype` (no previous
        attributes), or later, once, if `t` is before the event window."""
        if t <= self.event_floor:
            self._stale[s] = None
        else:
            new = subscription_object(s)
            self.objects["subscription"][s.id] = new
            self.emit(t, etype, new)


@contextmanager
def no_gc() -> Iterator[None]:
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
