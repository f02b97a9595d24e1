"""Line specs: what an invoice will charge, before the invoice exists; invoice items.

A line is first a *spec* (a plain dict: kind, price, quantity, amount, service period,
description, subscription item, invoice item, proration, discountable, credited line,
the `ItemState` it charges and the `Change` it carries): the cycle line of a licensed
item, the usage of a metered item, or an invoice item (`ii_…`, created at once as a
pending Stripe object). `invoicing.create_invoice` turns specs into invoice lines.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from etl.sandbox.simulation.catalog import Price
from etl.sandbox.simulation.records import Change, ItemState, SubscriptionState
from etl.sandbox.simulation.render_invoice import invoiceitem_obj

if TYPE_CHECKING:
    from etl.sandbox.simulation.account import Account

LineSpec = dict[str, Any]


def cycle_line(it: ItemState, start: int, end: int, trial: bool = False) -> LineSpec:
    """The line of a licensed item for the billing period [start, end)."""
    p = it.price
    if trial:
        desc = f"Trial period for {p.product_name}"
        amount = 0
    else:
        desc = f"{it.qty} × {p.product_name} (at {p.unit_amount / 100:.2f} {p.currency.upper()} / {p.interval})"
        amount = p.unit_amount * it.qty
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


def metered_line(s: SubscriptionState, usage: int, start: int, end: int) -> LineSpec:
    """The usage of the metered item over [start, end), billed in arrears."""
    if s.metered is None:
        raise ValueError(f"subscription {s.id} has no metered item to bill usage for")
    m = s.metered.price
    return {
        "kind": "metered",
        "price": m,
        "qty": usage,
        "amount": usage * m.unit_amount,
        "start": start,
        "end": end,
        "desc": f"{usage} × {m.product_name} (at {m.unit_amount / 100:.2f} {m.currency.upper()} / call)",
        "si": s.metered.id,
        "ii": None,
        "proration": False,
        "discountable": True,
        "credited": None,
        "item": None,
        "change": None,
    }


def invoice_item(
    acct: Account,
    t: int,
    s: SubscriptionState,
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
) -> LineSpec:
    """Creates the invoice item object (pending) and returns its line spec."""
    ii = acct.ids.new("ii")
    cust = s.cust
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
        s.id,
        si,
        proration,
        proration or price.kind != "one_time",
        None,
    )
    acct.put("invoiceitem", obj)
    acct.emit(t, "invoiceitem.created", obj)
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


def take_pending(s: SubscriptionState) -> list[LineSpec]:
    """The line specs of the subscription's pending invoice items, which it no longer holds."""
    out: list[LineSpec] = [
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
        for pd in s.pending
    ]
    s.pending = []
    return out
