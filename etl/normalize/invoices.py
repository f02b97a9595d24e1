"""Invoices and invoice items → rows of `invoices`, `invoice_lines`, `discounts`,
`invoice_items`.

An invoice's service period is its lines' (Stripe's own `period_*` is the previous
period for subscription renewals); its subscription and payment intent are read from
either API shape (`parent.subscription_details` and `payments` since 2025-03-31).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from etl.normalize.discounts import discount_objects, normalize_discount
from etl.normalize.fields import (
    Normalized,
    Row,
    as_mapping,
    integer,
    ref_id,
    required,
    sum_amounts,
    ts,
)
from etl.normalize.lines import invoice_lines, lines_incomplete, normalize_line


def invoice_subscription(obj: Mapping[str, Any]) -> str | None:
    details = as_mapping(as_mapping(obj.get("parent")).get("subscription_details"))
    if details.get("subscription"):
        return ref_id(details["subscription"])
    return ref_id(obj.get("subscription"))


def invoice_payment_intent(obj: Mapping[str, Any]) -> str | None:
    """Current API: the default (else first) payment of `payments`; legacy: `payment_intent`."""
    found = None
    for p in as_mapping(obj.get("payments")).get("data") or []:
        payment = as_mapping(as_mapping(p).get("payment"))
        if (
            payment.get("type") == "payment_intent"
            and payment.get("payment_intent")
            and (p.get("is_default") or found is None)
        ):
            found = ref_id(payment["payment_intent"])
    return found or ref_id(obj.get("payment_intent"))


def _invoice_tax(obj: Mapping[str, Any]) -> int:
    """`total_taxes` (current API), else `tax`, else `total_tax_amounts` (older ones)."""
    if obj.get("total_taxes") is not None:
        return sum_amounts(obj.get("total_taxes"))
    if obj.get("tax") is not None:
        return integer(obj.get("tax")) or 0
    return sum_amounts(obj.get("total_tax_amounts"))


def _add_discounts(out: Normalized, obj: Mapping[str, Any]) -> None:
    discounts, bare = discount_objects(obj)
    for d in discounts:
        row = normalize_discount(d)
        row["stripe_customer_id"] = row["stripe_customer_id"] or ref_id(obj.get("customer"))
        out.add("discounts", row)
    out.unexpanded_discounts.extend(bare)


def normalize_invoice(obj: Mapping[str, Any]) -> Normalized:
    """An invoice with every line it carries (the caller has paged the rest in)."""
    iid = required(obj, "id")
    out = Normalized()
    currency = str(required(obj, "currency")).lower()
    status = required(obj, "status")
    lines = [
        normalize_line(line, invoice_id=iid, position=i, currency=currency)
        for i, line in enumerate(invoice_lines(obj))
    ]
    tax = _invoice_tax(obj)
    starts = [r["period_start"] for r in lines if r["period_start"]]
    ends = [r["period_end"] for r in lines if r["period_end"]]
    transitions = as_mapping(obj.get("status_transitions"))
    _add_discounts(out, obj)
    out.add(
        "invoices",
        {
            "id": iid,
            "source": "stripe",
            "stripe_customer_id": ref_id(required(obj, "customer")),
            "subscription_id": invoice_subscription(obj),
            "status": status,
            "billing_reason": obj.get("billing_reason"),
            "currency": currency,
            "subtotal": integer(obj.get("subtotal")),
            "discount": sum_amounts(obj.get("total_discount_amounts")),
            "tax": tax,
            "total": integer(obj.get("total")),
            "amount_due": integer(obj.get("amount_due")),
            "amount_paid": integer(obj.get("amount_paid")),
            "description": obj.get("description"),
            "number": obj.get("number"),
            "created": ts(obj.get("created")),
            "due_date": ts(obj.get("due_date")),
            "finalized_at": ts(transitions.get("finalized_at")),
            "paid_at": ts(transitions.get("paid_at")),
            "period_start": min(starts) if starts else ts(obj.get("period_start")),
            "period_end": max(ends) if ends else ts(obj.get("period_end")),
            "payment_intent_id": invoice_payment_intent(obj),
            "lines_complete": not lines_incomplete(obj),
        },
    )
    out.rows["invoice_lines"] = lines
    return out


def normalize_invoice_item(obj: Mapping[str, Any]) -> Row:
    iid = required(obj, "id")
    if obj.get("deleted"):
        return {"id": iid, "deleted": True}
    parent = as_mapping(obj.get("parent"))
    subscription = ref_id(as_mapping(parent.get("subscription_details")).get("subscription"))
    subscription = subscription or ref_id(obj.get("subscription"))
    pricing = as_mapping(obj.get("pricing"))
    plan_id = ref_id(as_mapping(pricing.get("price_details")).get("price"))
    plan_id = plan_id or ref_id(obj.get("price")) or ref_id(obj.get("plan"))
    proration = obj.get("proration")
    if proration is None:
        proration = as_mapping(parent.get("subscription_details")).get("proration")
    period = as_mapping(obj.get("period"))
    return {
        "id": iid,
        "stripe_customer_id": ref_id(obj.get("customer")),
        "invoice_id": ref_id(obj.get("invoice")),
        "subscription_id": subscription,
        "plan_id": plan_id,
        "amount": integer(required(obj, "amount")),
        "currency": str(required(obj, "currency")).lower(),
        "quantity": integer(obj.get("quantity"), None),
        "proration": bool(proration),
        "description": obj.get("description"),
        "period_start": ts(period.get("start")),
        "period_end": ts(period.get("end")),
        "deleted": False,
        "created": ts(obj.get("date", obj.get("created"))),
    }
