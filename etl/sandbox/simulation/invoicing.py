"""Invoices of the simulation: lines and totals, finalization, payment.

`create_invoice` turns line specs (`line_specs`) into Stripe lines with discounts and
exclusive tax (both half-up rounded), applies the customer's credit balance (a negative
total becomes credit for the next invoice), and records the invoice's `InvoiceFact` for
the truth; `finalize` numbers and charges it, `pay` records the payment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from etl.sandbox.simulation.catalog import Coupon, Price, TaxRate
from etl.sandbox.simulation.customers import set_customer_fields
from etl.sandbox.simulation.line_specs import LineSpec
from etl.sandbox.simulation.records import CustomerState, InvoiceFact, SubscriptionState
from etl.sandbox.simulation.refunds import credit_note, refund
from etl.sandbox.simulation.render_invoice import invoice_obj, invoice_payment_obj, line_obj
from etl.sandbox.simulation.util import DAY

if TYPE_CHECKING:
    from etl.sandbox.simulation.account import Account

Obj = dict[str, Any]

# ------------------------------------------------------------ invoices


def coupon_applies(s: SubscriptionState, t: int) -> bool:
    """Whether the subscription's coupon discounts an invoice created at `t`."""
    c = s.coupon
    if c is None:
        return False
    if c.duration == "forever":
        return True
    if c.duration == "once":
        return s.n_invoices == 0
    return s.tl.discount_end is not None and t < s.tl.discount_end


def create_invoice(
    acct: Account,
    t: int,
    c: CustomerState,
    s: SubscriptionState,
    specs: list[LineSpec],
    reason: str,
    period_start: int,
    period_end: int,
    first: bool = False,
) -> tuple[str, InvoiceFact]:
    """A draft invoice of the specs (invoice.created); returns its id and fact."""
    inv_id = acct.ids.new("in")
    coupon = s.coupon if coupon_applies(s, t) else None
    did = s.discount_id if coupon is not None else None
    lines, subtotal, disc_total, tax_total = _lines(acct, inv_id, c, s, specs, coupon, did)
    s.n_invoices += 1
    total_excl = subtotal - disc_total
    total = total_excl + tax_total
    starting = c.balance
    x = total + starting
    amount_due = max(0, x)
    if min(0, x) != c.balance:
        c.balance = min(0, x)
        acct.update(t, "customer", c.id, "customer.updated", balance=c.balance)
    obj = invoice_obj(
        acct.render_cache,
        inv_id,
        acct.objects["customer"][c.id],
        s.id,
        c.currency,
        t,
        reason,
        lines,
        period_start,
        period_end,
        [did] if did and disc_total else [],
        [{"amount": disc_total, "discount": did}] if disc_total else [],
        _total_taxes(c.tax, lines, tax_total, total_excl),
        subtotal,
        total_excl,
        total,
        starting,
        amount_due,
    )
    obj["ending_balance"] = min(0, x)
    acct.put("invoice", obj)
    acct.emit(t, "invoice.created", obj)
    fact = InvoiceFact(inv_id, t, first)
    acct.invoice_facts[inv_id] = fact
    # the pending items are now on this invoice
    for sp in specs:
        if sp["ii"] is not None:
            acct.update(t, "invoiceitem", sp["ii"], None, invoice=inv_id)
        if sp["change"] is not None:
            sp["change"].invoice = fact
    return inv_id, fact


def _lines(
    acct: Account,
    inv_id: str,
    c: CustomerState,
    s: SubscriptionState,
    specs: list[LineSpec],
    coupon: Coupon | None,
    did: str | None,
) -> tuple[list[Obj], int, int, int]:
    """The invoice's line objects, and their subtotal, discount total and tax total."""
    # one pass over the specs (hot: every invoice), the amount-off remainder carried along
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
        taxes: list[Obj] = []
        if tax is not None and amount != 0:
            taxes = _line_taxes(tax, amount - disc)
            tax_total += taxes[0]["amount"]
        p: Price = sp["price"]
        lid = acct.ids.new("il")
        cred = None
        if sp["credited"] is not None:
            cred = {"invoice": sp["credited"][0], "invoice_line_items": [sp["credited"][1]]}
        lines.append(
            line_obj(
                acct.render_cache,
                lid,
                inv_id,
                c.currency,
                amount,
                sp["desc"],
                sp["start"],
                sp["end"],
                sp["qty"],
                p.id,
                p.product,
                p.unit_amount,
                s.id,
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
    return lines, subtotal, disc_total, tax_total


def _line_taxes(tax: TaxRate, net: int) -> list[Obj]:
    """The exclusive tax of a line of `net` amount (half-up rounded, signed like net)."""
    tx = (abs(net) * tax.percentage * 2 + 100) // 200
    tx = tx if net >= 0 else -tx
    return [
        {
            "amount": tx,
            "tax_behavior": "exclusive",
            "tax_rate_details": {"tax_rate": tax.id},
            "taxability_reason": "standard_rated",
            "taxable_amount": net,
            "type": "tax_rate_details",
        }
    ]


def _total_taxes(
    tax: TaxRate | None, lines: list[Obj], tax_total: int, total_excl: int
) -> list[Obj]:
    if tax is None or not any(ln["taxes"] for ln in lines):
        return []
    return [
        {
            "amount": tax_total,
            "tax_behavior": "exclusive",
            "tax_rate_details": {"tax_rate": tax.id},
            "taxability_reason": "standard_rated",
            "taxable_amount": total_excl,
            "type": "tax_rate_details",
        }
    ]


def finalize(
    acct: Account,
    t: int,
    inv_id: str,
    s: SubscriptionState,
    fail: bool,
    next_attempt: int | None = None,
) -> None:
    """Number and finalize the invoice, then charge it: paid, or a failed first attempt."""
    c = s.cust
    number = f"{c.prefix}-{c.seq:04d}"
    c.seq += 1
    set_customer_fields(acct, t, c, next_invoice_sequence=c.seq)
    inv = acct.objects["invoice"][inv_id]
    st = dict(inv["status_transitions"], finalized_at=t)
    acct.update(
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
    acct.emit(t, "invoice.finalized", acct.objects["invoice"][inv_id])
    acct.invoice_facts[inv_id].status = "open"
    if fail and inv["amount_due"] > 0:
        acct.update(
            t,
            "invoice",
            inv_id,
            "invoice.payment_failed",
            attempt_count=1,
            attempted=True,
            next_payment_attempt=next_attempt,
        )
        return
    pay(acct, t, inv_id)


def pay(acct: Account, t: int, inv_id: str) -> None:
    """The invoice is paid now (with a payment intent if anything is due)."""
    inv = acct.objects["invoice"][inv_id]
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
        pi = acct.ids.new("pi")
        ch = "ch_" + pi[3:]  # a payment intent's charge (Stripe ids share the suffix too)
        ip = invoice_payment_obj("inpay_" + pi[3:], inv_id, inv["currency"], amt, t, pi)
        changes["payments"] = dict(inv["payments"], data=[ip])
        acct.charges[ch] = inv_id
        acct.payments[inv_id] = (ch, pi, amt)
        r = acct.rng
        x = r.random()
        if x < 0.012:
            acct.at(t + r.randint(1, 20) * DAY + r.randint(0, DAY), credit_note, inv_id)
        elif x < 0.02:
            acct.at(t + r.randint(1, 10) * DAY + r.randint(0, DAY), refund, inv_id)
    acct.update(t, "invoice", inv_id, None, **changes)
    new = acct.objects["invoice"][inv_id]
    acct.emit(t, "invoice.paid", new)
    acct.emit(t, "invoice.payment_succeeded", new)
    fact = acct.invoice_facts[inv_id]
    fact.paid_at = t
    fact.status = "paid"
