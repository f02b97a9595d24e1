"""Builders of invoices, their lines, invoice items and invoice payments (current API shapes).

Split from `render` for size; the same rules hold: every builder returns a new dict,
and the nested dicts shared through the account's `cache` or the constants below are
never mutated.
"""

from __future__ import annotations

from typing import Any

from etl.sandbox.simulation.render import EMPTY_LIST, EMPTY_META

Obj = dict[str, Any]

_INV_AUTOMATIC_TAX: Obj = {
    "enabled": False,
    "liability": None,
    "status": None,
    "disabled_reason": None,
    "provider": None,
}
_INV_PAYMENT_SETTINGS: Obj = {
    "default_mandate": None,
    "payment_method_options": None,
    "payment_method_types": None,
}
_RENDERING: Obj = {
    "amount_tax_display": None,
    "pdf": {"page_size": "auto"},
    "template": None,
    "template_version": None,
}
_ISSUER: Obj = {"type": "self"}
_NO_PRORATION_DETAILS: Obj = {"credited_items": None}


def _line_parent(
    cache: dict[Any, Obj],
    sub_id: str | None,
    si_id: str | None,
    ii_id: str | None,
    proration: bool,
    credited: Obj | None,
) -> Obj:
    if si_id is not None and ii_id is None and not proration:
        # a subscription item's own line: the same parent on every invoice, shared
        cached = cache.get((sub_id, si_id))
        if cached is not None:
            return cached
    details = {"credited_items": credited} if credited else _NO_PRORATION_DETAILS
    if si_id is not None:
        parent: Obj = {
            "type": "subscription_item_details",
            "invoice_item_details": None,
            "subscription_item_details": {
                "invoice_item": ii_id,
                "proration": proration,
                "proration_details": details,
                "subscription": sub_id,
                "subscription_item": si_id,
            },
        }
        if ii_id is None and not proration:
            cache[(sub_id, si_id)] = parent
        return parent
    return {
        "type": "invoice_item_details",
        "invoice_item_details": {
            "invoice_item": ii_id,
            "proration": proration,
            "proration_details": details,
            "subscription": sub_id,
        },
        "subscription_item_details": None,
    }


def _pricing(
    cache: dict[Any, Obj], price_id: str | None, product_id: str | None, unit_amount: int | None
) -> Obj:
    cached = cache.get(("pricing", price_id))
    if cached is None:
        cached = {
            "type": "price_details",
            "price_details": {"price": price_id, "product": product_id},
            "unit_amount_decimal": None if unit_amount is None else str(unit_amount),
        }
        cache[("pricing", price_id)] = cached
    return cached


def line_obj(
    cache: dict[Any, Obj],
    lid: str,
    inv_id: str,
    currency: str,
    amount: int,
    description: str,
    period_start: int,
    period_end: int,
    quantity: int | None,
    price_id: str | None,
    product_id: str | None,
    unit_amount: int | None,
    sub_id: str | None,
    si_id: str | None,
    ii_id: str | None,
    proration: bool,
    discountable: bool,
    discount_amounts: list[Obj],
    taxes: list[Obj],
    credited: Obj | None,
) -> Obj:
    return {
        "id": lid,
        "object": "line_item",
        "amount": amount,
        "currency": currency,
        "description": description,
        "discount_amounts": discount_amounts,
        "discountable": discountable,
        "discounts": [d["discount"] for d in discount_amounts] if discount_amounts else EMPTY_LIST,
        "invoice": inv_id,
        "livemode": False,
        "metadata": EMPTY_META,
        "parent": _line_parent(cache, sub_id, si_id, ii_id, proration, credited),
        "period": {"end": period_end, "start": period_start},
        "pretax_credit_amounts": EMPTY_LIST,
        "pricing": _pricing(cache, price_id, product_id, unit_amount),
        "quantity": quantity,
        "quantity_decimal": None if quantity is None else str(quantity),
        "subscription": sub_id,
        "subtotal": amount,
        "taxes": taxes,
    }


def invoiceitem_obj(
    ii: str,
    customer: str,
    currency: str,
    amount: int,
    date: int,
    description: str,
    period_start: int,
    period_end: int,
    quantity: int,
    price_id: str | None,
    product_id: str | None,
    unit_amount: int | None,
    sub_id: str | None,
    si_id: str | None,
    proration: bool,
    discountable: bool,
    invoice: str | None,
) -> Obj:
    if sub_id is not None:
        parent: Obj | None = {
            "type": "subscription_details",
            "subscription_details": {"subscription": sub_id, "subscription_item": si_id},
        }
    else:
        parent = None
    return {
        "id": ii,
        "object": "invoiceitem",
        "amount": amount,
        "currency": currency,
        "customer": customer,
        "customer_account": None,
        "date": date,
        "description": description,
        "discountable": discountable,
        "discounts": EMPTY_LIST,
        "invoice": invoice,
        "livemode": False,
        "metadata": EMPTY_META,
        "net_amount": amount,
        "parent": parent,
        "period": {"end": period_end, "start": period_start},
        "pricing": {
            "type": "price_details",
            "price_details": {"price": price_id, "product": product_id},
            "unit_amount_decimal": None if unit_amount is None else str(unit_amount),
        },
        "proration": proration,
        "quantity": quantity,
        "quantity_decimal": str(quantity),
        "tax_rates": EMPTY_LIST,
        "test_clock": None,
    }


def invoice_obj(
    cache: dict[Any, Obj],
    inv_id: str,
    customer: Obj,
    sub_id: str | None,
    currency: str,
    created: int,
    billing_reason: str,
    lines: list[Obj],
    period_start: int,
    period_end: int,
    discounts: list[str],
    total_discount_amounts: list[Obj],
    total_taxes: list[Obj],
    subtotal: int,
    total_excluding_tax: int,
    total: int,
    starting_balance: int,
    amount_due: int,
) -> Obj:
    # one Stripe object literal (every key of Stripe's example), clearer whole
    parent: Obj | None = None
    if sub_id is not None:
        parent = cache.get(("invoice_parent", sub_id))
        if parent is None:
            parent = {
                "type": "subscription_details",
                "quote_details": None,
                "subscription_details": {"metadata": EMPTY_META, "subscription": sub_id},
            }
            cache[("invoice_parent", sub_id)] = parent
    return {
        "id": inv_id,
        "object": "invoice",
        "account_country": "US",
        "account_name": "Sandbox SaaS Inc.",
        "account_tax_ids": None,
        "amount_due": amount_due,
        "amount_overpaid": 0,
        "amount_paid": 0,
        "amount_remaining": amount_due,
        "amount_shipping": 0,
        "application": None,
        "attempt_count": 0,
        "attempted": False,
        "auto_advance": True,
        "automatic_tax": _INV_AUTOMATIC_TAX,
        "automatically_finalizes_at": created + 3600,
        "billing_reason": billing_reason,
        "collection_method": "charge_automatically",
        "created": created,
        "currency": currency,
        "custom_fields": None,
        "customer": customer["id"],
        "customer_account": None,
        "customer_address": customer["address"],
        "customer_email": customer["email"],
        "customer_name": customer["name"],
        "customer_phone": customer["phone"],
        "customer_shipping": None,
        "customer_tax_exempt": customer["tax_exempt"],
        "customer_tax_ids": EMPTY_LIST,
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": EMPTY_LIST,
        "description": None,
        "discounts": discounts,
        "due_date": None,
        "effective_at": None,
        "ending_balance": None,
        "footer": None,
        "from_invoice": None,
        "hosted_invoice_url": None,
        "invoice_pdf": None,
        "issuer": _ISSUER,
        "last_finalization_error": None,
        "latest_revision": None,
        "lines": {
            "object": "list",
            "data": lines,
            "has_more": False,
            "url": f"/v1/invoices/{inv_id}/lines",
        },
        "livemode": False,
        "metadata": EMPTY_META,
        "next_payment_attempt": created + 3600,
        "number": None,
        "on_behalf_of": None,
        "parent": parent,
        "payment_settings": _INV_PAYMENT_SETTINGS,
        "payments": {
            "object": "list",
            "data": EMPTY_LIST,
            "has_more": False,
            "url": f"/v1/invoice_payments?invoice={inv_id}",
        },
        "period_end": period_end,
        "period_start": period_start,
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "receipt_number": None,
        "rendering": _RENDERING,
        "shipping_cost": None,
        "shipping_details": None,
        "starting_balance": starting_balance,
        "statement_descriptor": None,
        "status": "draft",
        "status_transitions": {
            "finalized_at": None,
            "marked_uncollectible_at": None,
            "paid_at": None,
            "voided_at": None,
        },
        "subtotal": subtotal,
        "subtotal_excluding_tax": subtotal,
        "test_clock": None,
        "total": total,
        "total_discount_amounts": total_discount_amounts,
        "total_excluding_tax": total_excluding_tax,
        "total_pretax_credit_amounts": EMPTY_LIST,
        "total_taxes": total_taxes,
        "webhooks_delivered_at": created,
    }


def invoice_payment_obj(
    ipid: str, inv_id: str, currency: str, amount: int, created: int, pi: str
) -> Obj:
    return {
        "id": ipid,
        "object": "invoice_payment",
        "amount_paid": amount,
        "amount_requested": amount,
        "created": created,
        "currency": currency,
        "invoice": inv_id,
        "is_default": True,
        "livemode": False,
        "payment": {"type": "payment_intent", "payment_intent": pi},
        "status": "paid",
        "status_transitions": {"canceled_at": None, "paid_at": created},
    }
