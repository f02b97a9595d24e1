"""A random Stripe-shaped account history written the way the sync stores it."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert

from etl.db.models import (
    CreditNote,
    Invoice,
    InvoiceLine,
    Refund,
    Subscription,
    SubscriptionItem,
)
from etl.db.tables import table_of
from etl.periods import add_interval
from tests.metrics.helpers import NOW, add_customers, add_plan, model_row

PLANS = {
    "price_m10": ("month", 1, 1_000, "usd"),
    "price_m30": ("month", 1, 3_000, "usd"),
    "price_q90": ("month", 3, 9_000, "usd"),
    "price_y600": ("year", 1, 60_000, "usd"),
    "price_w5": ("week", 2, 500, "usd"),
    "price_e20": ("month", 1, 2_000, "eur"),
}


def build(conn: Connection, seed: int, customers: int = 25) -> dict[str, Any]:
    """Customers, plans, subscriptions, invoices with lines, refunds and credit notes."""
    # One random history, clearer whole: its draws in one order keep the data set fixed.
    rnd = random.Random(seed)
    add_customers(conn, list(range(1, customers + 1)))
    for pid, (interval, count, amount, cur) in PLANS.items():
        add_plan(conn, pid, amount, interval, count, currency=cur, source="stripe_price")
    add_plan(conn, "price_metered", 5, "month", 1, usage_type="metered", source="stripe_price")
    add_plan(conn, "price_setup", 20_000, None, source="stripe_price")
    add_plan(conn, "price_incl", 1_190, "month", 1, tax_behavior="inclusive", source="stripe_price")
    invoices: list[dict[str, Any]] = []
    lines: list[dict[str, Any]] = []
    subs: list[dict[str, Any]] = []
    items: list[dict[str, Any]] = []
    refunds: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    n = 0
    for cid in range(1, customers + 1):
        plan = rnd.choice([*sorted(PLANS), "price_incl"])
        interval, count, amount, cur = PLANS.get(plan, ("month", 1, 1_190, "usd"))
        sub_id = f"sub_{cid}"
        t = datetime(2023, 1, 1) + timedelta(days=rnd.randrange(0, 500), hours=rnd.randrange(24))
        for _ in range(rnd.randrange(1, 12)):
            end = add_interval(t, interval, count)
            n += 1
            inv_id = f"in_{n}"
            status = rnd.choice(["paid"] * 8 + ["open", "void", "uncollectible", "draft"])
            qty = rnd.randrange(1, 4)
            inline: list[dict[str, Any]] = []
            incl = 190 * qty if plan == "price_incl" else 0
            inline.append(
                {"plan_id": plan, "line_type": "subscription", "proration": False,
                 "amount": amount * qty, "discount_amount": rnd.choice([0, 0, 100]),
                 "tax_amount": incl or rnd.choice([0, 0, 150]), "inclusive_tax_amount": incl,
                 "quantity": qty, "period_start": t, "period_end": end}
            )  # fmt: skip
            r = rnd.random()
            if r < 0.1:
                inline.append(
                    {"plan_id": "price_setup", "line_type": "invoiceitem", "proration": False,
                     "amount": 20_000, "quantity": 1, "period_start": t, "period_end": t}
                )  # fmt: skip
            elif r < 0.2:
                inline.append(
                    {"plan_id": "price_metered", "line_type": "subscription", "proration": False,
                     "amount": rnd.randrange(0, 900), "quantity": None, "period_start": t,
                     "period_end": end}
                )  # fmt: skip
            elif r < 0.3 and plan in PLANS and PLANS[plan][3] == "usd":
                mid = t + (end - t) / 3
                new = rnd.choice([p for p in PLANS if PLANS[p][3] == "usd"])
                for p, v in ((plan, -(amount * qty) // 2), (new, PLANS[new][2] // 2)):
                    inline.append(
                        {"plan_id": p, "line_type": "invoiceitem", "proration": True,
                         "amount": v, "quantity": qty, "period_start": mid, "period_end": end}
                    )  # fmt: skip
            for pos, ln in enumerate(inline):
                ln.update(
                    id=f"il_{n}_{pos}", invoice_id=inv_id, position=pos, customer_id=cid,
                    subscription_id=sub_id, currency=cur, updated_at=NOW,
                )  # fmt: skip
                lines.append(model_row(InvoiceLine, **ln))
            invoices.append(
                model_row(
                    Invoice, id=inv_id, source="stripe", customer_id=cid, subscription_id=sub_id,
                    status=status, currency=cur, created=t, due_date=t + timedelta(days=14),
                    paid_at=t if status == "paid" else None, updated_at=NOW,
                )
            )  # fmt: skip
            if status == "paid" and rnd.random() < 0.05:
                refunds.append(
                    model_row(Refund, id=f"re_{n}", invoice_id=inv_id, amount=rnd.randrange(1, 999),
                         currency=cur, status=rnd.choice(["succeeded", "failed"]), updated_at=NOW)
                )  # fmt: skip
            if status == "paid" and rnd.random() < 0.05:
                notes.append(
                    model_row(CreditNote, id=f"cn_{n}", invoice_id=inv_id, customer_id=cid,
                         amount=500, tax_amount=50, currency=cur,
                         status=rnd.choice(["issued", "void"]), updated_at=NOW)
                )  # fmt: skip
            t = end + timedelta(days=rnd.choice([0, 0, 0, 0, 45]))
        subs.append(
            model_row(Subscription, id=sub_id, customer_id=cid, status=rnd.choice(
                ["active", "active", "past_due", "canceled"]), currency=cur, updated_at=NOW)
        )  # fmt: skip
        items.append(
            model_row(SubscriptionItem, id=f"si_{cid}", subscription_id=sub_id, plan_id=plan,
                 quantity=1, updated_at=NOW)
        )  # fmt: skip
    for table, rows in (
        (Invoice, invoices),
        (InvoiceLine, lines),
        (Subscription, subs),
        (SubscriptionItem, items),
        (Refund, refunds),
        (CreditNote, notes),
    ):
        if rows:
            conn.execute(insert(table_of(table)), rows)
    return {"invoices": [i["id"] for i in invoices], "customers": customers}
