"""A generated Stripe account: a deterministic simulation of a SaaS business.

`generate_account(seed, customers, months, end, quiet_days)` simulates `months` of
history ending at `end` (default: a fixed date, so that code and tests are reproducible;
the CLI's default is today) and returns an `Account` whose `objects` hold plain dicts in
the shapes of the current Stripe API (2026-10-28.endive): resource -> {id: object}, in
creation order
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
import os
import sys
import time
from datetime import UTC, datetime

from etl.sandbox.simulation.account import EVENT_WINDOW, RESOURCES, Account, no_gc
from etl.sandbox.simulation.catalog import Price, price_obj, product_obj
from etl.sandbox.simulation.customers import edit_customer, new_customer
from etl.sandbox.simulation.lifecycle import end_subscription, start_subscription
from etl.sandbox.simulation.records import (
    Change,
    CustomerState,
    InvoiceFact,
    Period,
    SubTimeline,
)
from etl.sandbox.simulation.render import API_VERSION
from etl.sandbox.simulation.util import DAY, ts

__all__ = [
    "API_VERSION",
    "DEFAULT_END",
    "EVENT_WINDOW",
    "RESOURCES",
    "Account",
    "Change",
    "InvoiceFact",
    "Period",
    "SubTimeline",
    "generate_account",
]

DEFAULT_END = datetime(2026, 11, 1, tzinfo=UTC)


def generate_account(
    seed: int = 1,
    customers: int = 200,
    months: int = 24,
    end: datetime | None = None,
    quiet_days: int = 0,
) -> Account:
    """The simulated account: a deterministic function of the five arguments.

    `quiet_days` N > 0 makes a dormant account: its activity stops N days before `end`
    (see `go_quiet`), so no event is newer than N days at the clock."""
    if customers < 0 or months < 1:
        raise ValueError("customers must be >= 0 and months >= 1")
    if quiet_days < 0 or quiet_days * DAY >= months * 28 * DAY:
        raise ValueError("quiet_days must be >= 0 and shorter than the history")
    end_dt = DEFAULT_END if end is None else end
    if end_dt.tzinfo is None:
        end_dt = end_dt.replace(tzinfo=UTC)
    acct = Account(seed, customers, months, ts(end_dt))
    with acct.lock, no_gc():
        _populate(acct, quiet_days)
    return acct


def _populate(acct: Account, quiet_days: int = 0) -> None:
    """The catalog, the signups of the history and the catalog changes near its end,
    then the simulation up to the account's end (or up to its quiet days)."""
    r = acct.rng
    cat = acct.catalog
    for oid, prod in cat.products.items():
        acct.put("product", prod)
        acct.emit(cat.created[oid], "product.created", prod)
    for p in cat.prices.values():
        acct.put("price", p.obj)
        if p.kind == "legacy":
            acct.put("plan", p.plan_obj)
    for c in cat.coupons.values():
        acct.put("coupon", c.obj)
    span = acct.end - acct.start
    # Signups: density grows linearly over the history (a growing business).
    arrivals = sorted(acct.start + int(span * (r.random() ** 0.5)) for _ in range(acct.customers))
    for i, arrival in enumerate(arrivals):
        t, delay = arrival, None
        if r.random() < 0.03:
            # some subscribe exactly at a month boundary: their renewals hit month ends
            d = datetime.fromtimestamp(t, UTC)
            boundary = int(d.replace(day=1, hour=0, minute=0, second=0).timestamp())
            t, delay = boundary - 600, 600
        acct.at(t, _signup, i, delay)
    acct.arrival_rate = 2.0 * acct.customers / max(span, DAY)
    acct.at(acct.end + _gap(acct), _signup, -1)
    # Catalog changes shortly before the end, so the event stream carries some.
    acct.at(acct.end - 20 * DAY + 3 * 3600, _catalog_launch)
    acct.at(acct.end - 8 * DAY + 5 * 3600, _catalog_update)
    if quiet_days:
        stop = acct.end - quiet_days * DAY - 1
        acct.run_until(stop)
        go_quiet(acct, stop)
    acct.run_until(acct.end)
    acct.sort_new({})


# ------------------------------------------------------------ dormancy


def go_quiet(acct: Account, t: int) -> None:
    """The account falls silent after `t` until its end (a quiet or abandoned account).

    Stripe renews a live subscription whatever its owner does, with events, so a
    subscription that would renew before the end is canceled at `t` (its customer
    left); one whose period runs past the end (yearly plans, long trials) stays live.
    Everything else the queue held for the quiet days is dropped; what it held for
    after the end still happens when the clock is advanced."""
    for s in list(acct.subscription_states.values()):
        if s.status == "canceled" or s.period_end > acct.end:
            continue
        s.canceled_at = t
        s.tl.cancellations.append((t, t, "immediate"))
        end_subscription(acct, t, s, "cancellation_requested")
    acct.drop_actions(t, acct.end)


# ------------------------------------------------------------ arrivals


def _gap(acct: Account) -> int:
    """Seconds to the next signup after the end of the history (Poisson arrivals)."""
    if acct.arrival_rate <= 0:
        return 10 * DAY
    return max(60, int(acct.rng.expovariate(acct.arrival_rate)))


def _signup(acct: Account, t: int, i: int, delay: int | None = None) -> None:
    """Customer number `i` signs up (-1: one after the end, which schedules the next)."""
    r = acct.rng
    if i < 0:  # after the end: keep customers coming, at the latest rate
        acct.at(t + _gap(acct), _signup, -1)
    c = new_customer(acct, t)
    start_at = t + (delay if delay is not None else r.randint(5, 600))
    acct.at(start_at, start_subscription, c, False)
    if r.random() < 0.05:
        acct.at(t + r.randint(10, 200) * DAY, _second_subscription, c)
    if r.random() < 0.12:
        acct.at(t + r.randint(2, 700) * DAY + r.randint(0, DAY), edit_customer, c)


def _second_subscription(acct: Account, t: int, c: CustomerState) -> None:
    if not c.deleted and c.active_subs > 0:
        start_subscription(acct, t, c, False, second=True)


# ------------------------------------------------------------ catalog changes


def _catalog_launch(acct: Account, t: int) -> None:
    """A new product with one monthly price per currency."""
    pid = acct.ids.new("prod")
    prod = product_obj(pid, "Enterprise", t, "For large teams", None)
    acct.put("product", prod)
    acct.emit(t, "product.created", prod)
    for cur, amt in (("usd", 99900), ("eur", 94900), ("gbp", 84900)):
        p = Price(
            acct.ids.new("price"),
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
        acct.catalog.prices[p.id] = p
        acct.catalog.index[("enterprise", "Enterprise", "month", 1, cur)] = p
        acct.put("price", p.obj)
        acct.emit(t, "price.created", p.obj)
    acct.update(t, "product", pid, "product.updated", default_price=p.id, updated=t)


def _catalog_update(acct: Account, t: int) -> None:
    """A product description changes; a legacy price and its plan are deactivated."""
    growth = acct.catalog.price("flat", "Growth", "month", 1, "usd")
    acct.update(
        t,
        "product",
        growth.product,
        "product.updated",
        description="The Growth plan, now with SSO",
        updated=t,
    )
    legacy = acct.catalog.price("legacy", "Basic", "month", 1, "usd")
    # Prices are shared with the subscription items that embed them: replace the
    # catalog's dict so new renderings pick the change up.
    new = acct.update(t, "price", legacy.id, "price.updated", active=False)
    legacy.obj = new
    plan = dict(legacy.plan_obj)
    plan["active"] = False
    legacy.plan_obj = plan
    acct.objects["plan"][legacy.id] = plan
    acct.emit(t, "plan.updated", plan, {"active": True})


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
            # POSIX only: the ImportError below is the other platforms' case.
            import resource  # noqa: PLC0415

            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"peak RSS: {rss:.0f} MB")
        except ImportError:  # pragma: no cover - not on POSIX
            pass
    sys.stdout.flush()
    os._exit(0)  # skip freeing millions of objects one by one at exit


if __name__ == "__main__":
    sys.exit(_main())
