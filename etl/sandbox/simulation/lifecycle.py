"""The life of a subscription: start (trial or paid), renewals, cancellation, its end.

These functions call one another through the queue in a cycle (a start schedules the
renewal, a renewal plans the period's cancellation or change and schedules the next
renewal, an end may bring the customer back to a new start), which is why they live in
one module; what they delegate is below them: the choice of items (`choices`),
mid-period changes (`changes`), invoices (`invoicing`) and collection (`dunning`).

Billing anchors fall on days 1–28, so that a billing period is always
[end − one interval, end) in UTC calendar arithmetic: a subscription whose anchor would
fall on the 29th–31st starts on the 1st.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from etl.sandbox.simulation.catalog import Coupon, Price
from etl.sandbox.simulation.changes import change, invoice_unused_time, one_off
from etl.sandbox.simulation.choices import choose_coupon, choose_items
from etl.sandbox.simulation.customers import delete_customer
from etl.sandbox.simulation.dunning import finalize_renewal, recover, retry_failed, write_off
from etl.sandbox.simulation.invoicing import coupon_applies, create_invoice, finalize
from etl.sandbox.simulation.line_specs import cycle_line, invoice_item, metered_line, take_pending
from etl.sandbox.simulation.records import (
    CustomerState,
    ItemState,
    Period,
    SubscriptionState,
    SubTimeline,
    subscription_object,
)
from etl.sandbox.simulation.render import discount_obj
from etl.sandbox.simulation.util import DAY, add_interval, add_months

if TYPE_CHECKING:
    from etl.sandbox.simulation.account import Account

# Chance that a subscription is canceled during one billing period, by interval.
_CANCEL_CHANCE = {("month", 1): 0.035, ("month", 3): 0.09, ("year", 1): 0.22, ("week", 1): 0.012}

# ------------------------------------------------------------ start


def start_subscription(
    acct: Account, t: int, c: CustomerState, returning: bool, second: bool = False
) -> None:
    """Decides the subscription now; creates it at the first instant whose billing
    anchor falls on a day 1–28 (at most a few days later)."""
    if c.deleted:
        return
    r = acct.rng
    items_spec, metered_price = choose_items(acct, c, t, returning, second)
    paid = items_spec[0][0].unit_amount > 0
    trial = paid and not returning and not second and r.random() < 0.3
    coupon: Coupon | None = None
    if paid:
        single = len(items_spec) == 1 and metered_price is None
        coupon = choose_coupon(acct, c, single, trial)
    anchor = t + 14 * DAY if trial else t
    d = datetime.fromtimestamp(anchor, UTC)
    if d.day > 28:
        t += (calendar.monthrange(d.year, d.month)[1] - d.day + 1) * DAY
    acct.at(t, create_subscription, c, items_spec, metered_price, trial, coupon, returning)


def create_subscription(
    acct: Account,
    t: int,
    c: CustomerState,
    items_spec: list[tuple[Price, int]],
    metered_price: Price | None,
    trial: bool,
    coupon: Coupon | None,
    returning: bool,
) -> None:
    if c.deleted:
        return
    anchor = t + 14 * DAY if trial else t
    s = _new_state(acct, t, c, items_spec, metered_price, anchor)
    s.changes_allowed = coupon is None
    if coupon is not None:
        _attach_coupon(acct, t, s, coupon)
    if trial:
        _start_trial(acct, t, s)
    else:
        _start_active(acct, t, s, returning)


def _new_state(
    acct: Account,
    t: int,
    c: CustomerState,
    items_spec: list[tuple[Price, int]],
    metered_price: Price | None,
    anchor: int,
) -> SubscriptionState:
    sid = acct.ids.new("sub")
    tl = SubTimeline(sid, c.id, c.currency, t)
    acct.timelines[sid] = tl
    items = []
    for p, q in items_spec:
        it = ItemState(acct.ids.new("si"), p, q, t)
        items.append(it)
        tl.items[it.id] = [(t, p.id, q)]
    metered = None
    if metered_price is not None:
        metered = ItemState(acct.ids.new("si"), metered_price, 0, t)
    s = SubscriptionState(sid, c, t, anchor, items, metered, tl)
    acct.subscription_states[sid] = s
    c.active_subs += 1
    c.subs += 1
    return s


def _attach_coupon(acct: Account, t: int, s: SubscriptionState, coupon: Coupon) -> None:
    tl = s.tl
    s.coupon = coupon
    s.discount_id = acct.ids.new("di")
    tl.coupon = coupon.id
    tl.discount_start = t
    if coupon.duration == "repeating":
        tl.discount_end = add_months(t, coupon.duration_in_months or 1)
    s.discount_live = True
    disc = discount_obj(s.discount_id, coupon.obj, s.cust.id, s.id, t, tl.discount_end)
    acct.put("discount", disc)
    acct.emit(t, "customer.discount.created", disc)
    acct.update(
        t,
        "coupon",
        coupon.id,
        None,
        times_redeemed=acct.objects["coupon"][coupon.id]["times_redeemed"] + 1,
    )


def _start_trial(acct: Account, t: int, s: SubscriptionState) -> None:
    """A 14-day trial: a $0 first invoice, and the first renewal at its end."""
    r = acct.rng
    anchor = s.anchor
    s.status = "trialing"
    s.trial_start, s.trial_end = t, anchor
    s.period_start, s.period_end = t, anchor
    s.tl.status_history.append((t, "trialing"))
    _announce(acct, t, s)
    lines = [cycle_line(it, t, anchor, trial=True) for it in s.items]
    inv, fact = create_invoice(acct, t, s.cust, s, lines, "subscription_create", t, t, first=True)
    for it in s.items:
        s.tl.periods.append(Period(it.id, it.price.id, it.qty, t, anchor, fact, trial=True))
    finalize(acct, t, inv, s, fail=False)
    acct.sync_subscription(t, s, latest_invoice=inv)
    acct.at(anchor - 3 * DAY, trial_will_end, s)
    if r.random() < 0.22:  # the trial does not convert
        acct.at(t + r.randint(1, 13) * DAY, cancel_request, s, "period_end")
    acct.at(anchor, renew, s)


def _start_active(acct: Account, t: int, s: SubscriptionState, returning: bool) -> None:
    """A paid start: the first period invoiced and paid at once (maybe with a setup fee)."""
    r = acct.rng
    p0 = s.items[0].price
    s.status = "active"
    s.tl.status_history.append((t, "active"))
    e = add_interval(t, p0.interval or "month", p0.interval_count)
    s.period_start, s.period_end = t, e
    _announce(acct, t, s)
    lines = [cycle_line(it, t, e) for it in s.items]
    if not returning and p0.unit_amount > 0 and r.random() < 0.2:
        setup = acct.catalog.price("one_time", "Setup", None, 1, s.cust.currency)
        lines.append(invoice_item(acct, t, s, setup, 1, setup.unit_amount, t, t, "Setup fee"))
    inv, fact = create_invoice(acct, t, s.cust, s, lines, "subscription_create", t, t, first=True)
    for it in s.items:
        s.tl.periods.append(Period(it.id, it.price.id, it.qty, t, e, fact))
    finalize(acct, t, inv, s, fail=False)
    acct.sync_subscription(t, s, latest_invoice=inv)
    plan_period(acct, t, s)
    acct.at(e, renew, s)


def _announce(acct: Account, t: int, s: SubscriptionState) -> None:
    acct.put("subscription", subscription_object(s))
    acct.emit(t, "customer.subscription.created", acct.objects["subscription"][s.id])


def trial_will_end(acct: Account, t: int, s: SubscriptionState) -> None:
    if s.status == "trialing" and not s.cancel_at_period_end:
        acct.emit(t, "customer.subscription.trial_will_end", acct.objects["subscription"][s.id])


# ------------------------------------------------------------ renewals


def renew(acct: Account, t: int, s: SubscriptionState) -> None:
    """Period boundary: end the subscription, or start the next period and invoice it."""
    if s.status == "canceled":
        return
    if s.cancel_at_period_end:
        end_subscription(acct, t, s, "cancellation_requested")
        return
    r = acct.rng
    p0 = s.items[0].price
    start = t
    end = add_interval(t, p0.interval or "month", p0.interval_count)
    if s.status == "trialing":
        s.set_status(t, "active")
    prev_start = s.period_start
    s.prev_period_start = prev_start
    s.period_start, s.period_end = start, end
    specs = [cycle_line(it, start, end) for it in s.items]
    if s.metered is not None and prev_start < t and s.trial_end != t:
        specs.append(metered_line(s, r.randint(200, 20000), prev_start, t))
    specs.extend(take_pending(s))
    if s.discount_live and not coupon_applies(s, t):
        s.discount_live = False  # used up: Stripe removes it from the subscription
        if s.discount_id is not None:
            acct.emit(t, "customer.discount.deleted", acct.objects["discount"][s.discount_id])
    # Stripe: a renewal invoice's period is the one that just ended (when its pending
    # items accrued); the lines carry the service period.
    inv, fact = create_invoice(acct, t, s.cust, s, specs, "subscription_cycle", prev_start, t)
    for it in s.items:
        s.tl.periods.append(Period(it.id, it.price.id, it.qty, start, end, fact))
    acct.sync_subscription(t, s, latest_invoice=inv)
    lo = _collect(acct, t, s, inv, p0.interval == "week")
    if lo is not None:
        plan_period(acct, lo, s)
    acct.at(end, renew, s)


def _collect(acct: Account, t: int, s: SubscriptionState, inv: str, weekly: bool) -> int | None:
    """Schedules the renewal invoice's payment attempts; returns when the period is
    settled (changes may be planned after it), None if the invoice will be given up."""
    r = acct.rng
    amount_due = acct.objects["invoice"][inv]["amount_due"]
    fail = amount_due > 0 and not weekly and r.random() < 0.08
    fin = t + 3600
    attempts: list[int] = []
    k = 0
    if fail:
        # Retries 3, 5 and 7 days after the first attempt; one of them succeeds, or
        # after 15 days the invoice is given up and the subscription canceled.
        attempts = [fin + d * DAY + r.randint(0, 3600) for d in (3, 5, 7)]
        k = r.randrange(3) if r.random() < 0.55 else 3
    acct.at(fin, finalize_renewal, s, inv, fail, attempts[0] if attempts else None)
    if not fail:
        return fin + 60
    for i in range(k):
        nxt = attempts[i + 1] if i + 1 < len(attempts) else None
        acct.at(attempts[i], retry_failed, inv, nxt)
    if k < 3:
        acct.at(attempts[k], recover, s, inv)
        return attempts[k] + 60
    acct.at(fin + 15 * DAY, give_up, s, inv, r.random() < 0.3)
    return None


def give_up(acct: Account, t: int, s: SubscriptionState, inv: str, void: bool) -> None:
    if write_off(acct, t, inv, void):
        s.canceled_at = t
        end_subscription(acct, t, s, "payment_failed")


# ------------------------------------------------------------ during a period


def plan_period(acct: Account, lo: int, s: SubscriptionState) -> None:
    """Decide what happens during the current period (after `lo`)."""
    r = acct.rng
    end = s.period_end
    if end - lo < 2 * 3600:
        return
    p0 = s.items[0].price
    p_cancel = _CANCEL_CHANCE.get((p0.interval or "month", p0.interval_count), 0.03)
    if p0.kind == "free":
        p_cancel = 0.05
    x = r.random()

    def when() -> int:
        return lo + int((end - lo - 3600) * r.random())

    if x < p_cancel:
        _plan_cancellation(acct, s, when)
        return
    if not s.changes_allowed:
        if r.random() < 0.004:
            acct.at(when(), one_off, s)
        return
    kind = p0.kind
    behavior = "always_invoice" if r.random() < 0.25 else "create_prorations"
    if kind == "seat":
        if r.random() < 0.14:
            n = 1 if r.random() < 0.8 else r.randint(2, 6)
            times = sorted(when() for _ in range(n))
            for tt in times:
                acct.at(tt, change, s, "quantity", behavior)
    elif kind in ("flat", "legacy", "free") and r.random() < (0.05 if kind != "free" else 0.08):
        acct.at(when(), change, s, "plan", behavior)
    elif r.random() < 0.006:
        acct.at(when(), one_off, s)


def _plan_cancellation(acct: Account, s: SubscriptionState, when: Callable[[], int]) -> None:
    """How the subscription planned to cancel this period cancels (`plan_period`'s draw)."""
    y = acct.rng.random()
    if y < 0.65:
        acct.at(when(), cancel_request, s, "period_end")
    elif y < 0.85 and s.coupon is None:
        # (a proration credit for a discounted subscription is left out: the
        # simulation does not discount credits)
        acct.at(when(), cancel_request, s, "immediate_prorate")
    else:
        acct.at(when(), cancel_request, s, "immediate")


def cancel_request(acct: Account, t: int, s: SubscriptionState, mode: str) -> None:
    """The customer cancels: at the period's end, or now (with or without a proration
    credit for the unused time)."""
    if s.status == "canceled" or s.cancel_at_period_end:
        return
    if s.status == "past_due":
        return
    if mode == "period_end":
        s.cancel_at_period_end = True
        s.canceled_at = t
        s.cancel_reason = "cancellation_requested"
        s.tl.cancellations.append((t, s.period_end, "period_end"))
        acct.sync_subscription(t, s)
        return
    if mode == "immediate_prorate" and s.status == "active":
        invoice_unused_time(acct, t, s)
    s.canceled_at = t
    s.tl.cancellations.append((t, t, "immediate"))
    end_subscription(acct, t, s, "cancellation_requested")


# ------------------------------------------------------------ the end


def end_subscription(acct: Account, t: int, s: SubscriptionState, reason: str) -> None:
    """The subscription ends now; a customer left with none may come back or be deleted."""
    s.ended_at = t
    if s.canceled_at is None:
        s.canceled_at = t
    s.cancel_reason = reason
    s.set_status(t, "canceled")
    s.tl.cancellations.append((s.canceled_at, t, "ended"))
    acct.replace_subscription(t, s, "customer.subscription.deleted")
    c = s.cust
    c.active_subs -= 1
    if c.active_subs == 0 and not c.deleted:
        r = acct.rng
        x = r.random()
        if x < 0.22:
            acct.at(t + r.randint(45, 300) * DAY + r.randint(0, DAY), return_customer, c)
        elif x < 0.36:
            acct.at(t + r.randint(3, 90) * DAY + r.randint(0, DAY), delete_customer, c)


def return_customer(acct: Account, t: int, c: CustomerState) -> None:
    """A former customer subscribes again."""
    if not c.deleted and c.active_subs == 0:
        start_subscription(acct, t, c, True)
