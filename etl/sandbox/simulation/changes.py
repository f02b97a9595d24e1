"""Mid-period changes of a subscription: plan and quantity changes with Stripe's classic
prorations, the unused-time credit of an immediate cancellation, one-off invoice items.

A change at x in billing period [s, e) credits −round(old_unit × old_qty × (e − x) / (e − s))
and charges round(new_unit × new_qty × (e − x) / (e − s)) as proration invoice items,
billed on the next renewal (create_prorations) or at once on a `subscription_update`
invoice (always_invoice); each is recorded as a `Change` in the timeline.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from etl.sandbox.simulation.catalog import TIER_ORDER, Price
from etl.sandbox.simulation.invoicing import create_invoice, finalize
from etl.sandbox.simulation.line_specs import LineSpec, invoice_item, take_pending
from etl.sandbox.simulation.records import Change, ItemState, PendingItem, SubscriptionState
from etl.sandbox.simulation.util import prorate

if TYPE_CHECKING:
    from etl.sandbox.simulation.account import Account


def _hold(s: SubscriptionState, spec: LineSpec) -> None:
    """Keep a created invoice item pending, for the subscription's next invoice."""
    s.pending.append(
        PendingItem(
            spec["ii"],
            spec["price"],
            spec["qty"],
            spec["amount"],
            spec["start"],
            spec["end"],
            spec["desc"],
            spec["si"],
            spec["proration"],
            spec["credited"],
            spec["change"],
        )
    )


def one_off(acct: Account, t: int, s: SubscriptionState) -> None:
    """Consulting hours, one invoice item each: an invoice with more than 10 lines."""
    if s.status == "canceled" or s.cancel_at_period_end:
        return
    r = acct.rng
    p = acct.catalog.price("one_time", "Consulting", None, 1, s.cust.currency)
    for k in range(r.randint(11, 14)):
        spec = invoice_item(acct, t, s, p, 1, p.unit_amount, t, t, f"Consulting hour {k + 1}")
        _hold(s, spec)


def change(acct: Account, t: int, s: SubscriptionState, what: str, behavior: str) -> None:
    """Change the first item's quantity or plan (`what`), prorated per `behavior`."""
    if s.status != "active" or s.cancel_at_period_end:
        return
    it = s.items[0]
    old_p, old_q = it.price, it.qty
    new = _new_price_and_quantity(acct, s, what)
    if new is None:
        return
    new_p, new_q = new
    s_, e = s.period_start, s.period_end
    ch = Change(it.id, t, s_, e, old_p.id, old_q, new_p.id, new_q)
    s.tl.changes.append(ch)
    period = e - s_
    rem = e - t
    credit = -prorate(old_p.unit_amount * old_q, rem, period)
    charge = prorate(new_p.unit_amount * new_q, rem, period)
    day = _day(t)
    specs: list[LineSpec] = []
    if credit != 0:
        specs.append(_unused_time(acct, t, s, it, old_p, old_q, credit, day, ch))
    if charge != 0:
        specs.append(
            invoice_item(
                acct,
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
        specs = take_pending(s) + specs
        inv, _fact = create_invoice(acct, t, s.cust, s, specs, "subscription_update", t, t)
        acct.sync_subscription(t, s, latest_invoice=inv)
        finalize(acct, t, inv, s, fail=False)
    else:
        for sp in specs:
            _hold(s, sp)
        acct.sync_subscription(t, s)
    if not specs:
        ch.invoice = None


def _new_price_and_quantity(
    acct: Account, s: SubscriptionState, what: str
) -> tuple[Price, int] | None:
    """The first item's next (price, quantity); None when there is no plan to move to."""
    r = acct.rng
    it = s.items[0]
    old_p, old_q = it.price, it.qty
    if what == "quantity":
        delta = r.choice((-3, -2, -1, 1, 1, 2, 3, 5))
        new_q = max(1, old_q + delta)
        if new_q == old_q:
            new_q = old_q + 1
        return old_p, new_q
    # plan changes keep the interval and the currency
    cur = s.cust.currency
    iv, n = old_p.interval or "month", old_p.interval_count
    if old_p.kind in {"legacy", "free"}:
        tier = "Growth" if old_p.kind == "legacy" else "Starter"
        key = ("flat", tier, iv, n, cur)
    else:
        ti = old_p.tier
        ti = ti + 1 if (ti == 0 or (ti == 1 and r.random() < 0.6)) else ti - 1
        key = ("flat", TIER_ORDER[ti], iv, n, cur)
    new_p = acct.catalog.index.get(key)
    if new_p is None:
        return None
    return new_p, old_q


def invoice_unused_time(acct: Account, t: int, s: SubscriptionState) -> None:
    """Before an immediate cancellation: credit every item's unused time, on one
    `subscription_update` invoice with the pending items."""
    specs = take_pending(s)
    s_, e = s.period_start, s.period_end
    day = _day(t)
    for it in s.items:
        amt = -prorate(it.price.unit_amount * it.qty, e - t, e - s_)
        ch = Change(it.id, t, s_, e, it.price.id, it.qty, None, 0)
        s.tl.changes.append(ch)
        if amt != 0:
            specs.append(_unused_time(acct, t, s, it, it.price, it.qty, amt, day, ch))
    if specs:
        inv, _ = create_invoice(acct, t, s.cust, s, specs, "subscription_update", t, t)
        s.latest_invoice = inv
        finalize(acct, t, inv, s, fail=False)


def _unused_time(
    acct: Account,
    t: int,
    s: SubscriptionState,
    it: ItemState,
    price: Price,
    qty: int,
    amount: int,
    day: str,
    ch: Change,
) -> LineSpec:
    """The proration credit of `qty` × `price` from `t` to the end of the period."""
    return invoice_item(
        acct,
        t,
        s,
        price,
        qty,
        amount,
        t,
        s.period_end,
        f"Unused time on {qty} × {price.product_name} after {day}",
        si=it.id,
        proration=True,
        credited=it.last_line,
        change=ch,
    )


def _day(t: int) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%d %b %Y")
