"""Money given back → rows of `credit_notes` and `refunds`.

A refund names a charge and a payment intent, rarely its invoice; the writer links it
to the invoice the intent paid (`etl.load.save.link_refunds`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from etl.normalize.fields import Row, as_mapping, integer, ref_id, required, sum_amounts, ts


def normalize_credit_note(obj: Mapping[str, Any]) -> Row:
    if obj.get("total_taxes") is not None:
        tax = sum_amounts(obj.get("total_taxes"))
    else:
        tax = sum_amounts(obj.get("tax_amounts"))
    return {
        "id": required(obj, "id"),
        "invoice_id": ref_id(obj.get("invoice")),
        "stripe_customer_id": ref_id(obj.get("customer")),
        "amount": integer(required(obj, "amount")),
        "tax_amount": tax,
        "currency": str(required(obj, "currency")).lower(),
        "status": required(obj, "status"),
        "reason": obj.get("reason"),
        "created": ts(obj.get("created")),
    }


def normalize_refund(obj: Mapping[str, Any]) -> Row:
    metadata = as_mapping(obj.get("metadata"))
    charge = obj.get("charge")
    invoice = metadata.get("invoice") or metadata.get("invoice_id")
    if invoice is None and isinstance(charge, Mapping):
        invoice = ref_id(charge.get("invoice"))
    customer = ref_id(obj.get("customer"))
    if customer is None and isinstance(charge, Mapping):
        customer = ref_id(charge.get("customer"))
    return {
        "id": required(obj, "id"),
        "charge_id": ref_id(charge),
        "payment_intent_id": ref_id(obj.get("payment_intent")),
        "invoice_id": invoice,
        "stripe_customer_id": customer,
        "amount": integer(required(obj, "amount")),
        "currency": str(required(obj, "currency")).lower(),
        "status": required(obj, "status"),
        "reason": obj.get("reason"),
        "created": ts(obj.get("created")),
    }
