"""Builders of Stripe objects in the current API's shapes (API version 2026-10-28.endive).

Every builder returns a NEW dict (line and invoice builders share, through the
account's `cache`, the nested dicts that are identical across objects: a line's
`pricing`, a subscription item line's `parent`, an invoice's `parent`). The simulation never mutates an object once it is in
`Account.objects`: a change builds a new dict (copy-on-write) and replaces the old one.
That is what lets an event's `data.object` be the object itself, with no copying, and
stay a faithful snapshot. Nested constants below are shared between objects and must
never be mutated either.
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]

API_VERSION = "2026-10-28.endive"

_SUB_AUTOMATIC_TAX: Obj = {"enabled": False, "liability": None, "disabled_reason": None}
_SUB_INVOICE_SETTINGS: Obj = {
    "account_tax_ids": None,
    "issuer": {"type": "self"},
    "custom_fields": None,
    "description": None,
    "footer": None,
}
_SUB_PAYMENT_SETTINGS: Obj = {
    "payment_method_options": None,
    "payment_method_types": None,
    "save_default_payment_method": "off",
}
_TRIAL_SETTINGS: Obj = {"end_behavior": {"missing_payment_method": "create_invoice"}}
_BILLING_MODE: Obj = {"type": "classic"}
_MANAGED_PAYMENTS: Obj = {"enabled": False}
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
_CUSTOMER_INVOICE_SETTINGS: Obj = {
    "custom_fields": None,
    "default_payment_method": None,
    "footer": None,
    "rendering_options": None,
}
_EMPTY_LIST: list[Any] = []
_EMPTY_META: Obj = {}
_NO_PRORATION_DETAILS: Obj = {"credited_items": None}


def customer_obj(
    cid: str,
    created: int,
    email: str,
    name: str,
    phone: str | None,
    address: Obj,
    currency: str,
    metadata: Obj,
    invoice_prefix: str,
    balance: int,
    next_seq: int,
    tax_exempt: str,
) -> Obj:
    return {
        "id": cid,
        "object": "customer",
        "address": address,
        "balance": balance,
        "created": created,
        "currency": currency,
        "default_source": None,
        "delinquent": False,
        "description": None,
        "discount": None,
        "email": email,
        "invoice_prefix": invoice_prefix,
        "invoice_settings": _CUSTOMER_INVOICE_SETTINGS,
        "livemode": False,
        "metadata": metadata,
        "name": name,
        "next_invoice_sequence": next_seq,
        "phone": phone,
        "preferred_locales": _EMPTY_LIST,
        "shipping": None,
        "tax_exempt": tax_exempt,
        "test_clock": None,
        "customer_account": None,
    }


def item_obj(
    si: str,
    sub_id: str,
    created: int,
    price: Obj,
    plan: Obj,
    quantity: int | None,
    period_start: int,
    period_end: int,
) -> Obj:
    return {
        "id": si,
        "object": "subscription_item",
        "billing_thresholds": None,
        "created": created,
        "current_period_end": period_end,
        "current_period_start": period_start,
        "discounts": _EMPTY_LIST,
        "metadata": _EMPTY_META,
        "plan": plan,
        "price": price,
        "quantity": quantity,
        "subscription": sub_id,
        "tax_rates": _EMPTY_LIST,
    }


def subscription_obj(
    sid: str,
    customer: str,
    currency: str,
    created: int,
    anchor: int,
    items: list[Obj],
    status: str,
    latest_invoice: str | None,
    discounts: list[str],
    trial_start: int | None,
    trial_end: int | None,
    cancel_at_period_end: bool,
    cancel_at: int | None,
    canceled_at: int | None,
    ended_at: int | None,
    cancel_reason: str | None,
    metadata: Obj,
) -> Obj:
    return {
        "id": sid,
        "object": "subscription",
        "application": None,
        "application_fee_percent": None,
        "automatic_tax": _SUB_AUTOMATIC_TAX,
        "billing_cycle_anchor": anchor,
        "billing_cycle_anchor_config": None,
        "billing_mode": _BILLING_MODE,
        "billing_schedules": _EMPTY_LIST,
        "billing_thresholds": None,
        "cancel_at": cancel_at,
        "cancel_at_period_end": cancel_at_period_end,
        "canceled_at": canceled_at,
        "cancellation_details": {"comment": None, "feedback": None, "reason": cancel_reason},
        "collection_method": "charge_automatically",
        "created": created,
        "currency": currency,
        "customer": customer,
        "customer_account": None,
        "days_until_due": None,
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": _EMPTY_LIST,
        "description": None,
        "discounts": discounts,
        "ended_at": ended_at,
        "invoice_settings": _SUB_INVOICE_SETTINGS,
        "items": {
            "object": "list",
            "data": items,
            "has_more": False,
            "url": f"/v1/subscription_items?subscription={sid}",
        },
        "latest_invoice": latest_invoice,
        "livemode": False,
        "managed_payments": _MANAGED_PAYMENTS,
        "metadata": metadata,
        "next_pending_invoice_item_invoice": None,
        "on_behalf_of": None,
        "pause_collection": None,
        "payment_settings": _SUB_PAYMENT_SETTINGS,
        "pending_invoice_item_interval": None,
        "pending_setup_intent": None,
        "pending_update": None,
        "schedule": None,
        "start_date": created,
        "status": status,
        "test_clock": None,
        "transfer_data": None,
        "trial_end": trial_end,
        "trial_settings": _TRIAL_SETTINGS,
        "trial_start": trial_start,
    }


def discount_obj(
    did: str, coupon: Obj, customer: str, sub_id: str, start: int, end: int | None
) -> Obj:
    return {
        "id": did,
        "object": "discount",
        "checkout_session": None,
        "customer": customer,
        "customer_account": None,
        "end": end,
        "invoice": None,
        "invoice_item": None,
        "promotion_code": None,
        "source": {"coupon": coupon["id"], "type": "coupon"},
        "start": start,
        "subscription": sub_id,
        "subscription_item": None,
    }


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
        "discounts": [d["discount"] for d in discount_amounts] if discount_amounts else _EMPTY_LIST,
        "invoice": inv_id,
        "livemode": False,
        "metadata": _EMPTY_META,
        "parent": _line_parent(cache, sub_id, si_id, ii_id, proration, credited),
        "period": {"end": period_end, "start": period_start},
        "pretax_credit_amounts": _EMPTY_LIST,
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
        "discounts": _EMPTY_LIST,
        "invoice": invoice,
        "livemode": False,
        "metadata": _EMPTY_META,
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
        "tax_rates": _EMPTY_LIST,
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
    parent: Obj | None = None
    if sub_id is not None:
        parent = cache.get(("invoice_parent", sub_id))
        if parent is None:
            parent = {
                "type": "subscription_details",
                "quote_details": None,
                "subscription_details": {"metadata": _EMPTY_META, "subscription": sub_id},
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
        "customer_tax_ids": _EMPTY_LIST,
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": _EMPTY_LIST,
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
        "metadata": _EMPTY_META,
        "next_payment_attempt": created + 3600,
        "number": None,
        "on_behalf_of": None,
        "parent": parent,
        "payment_settings": _INV_PAYMENT_SETTINGS,
        "payments": {
            "object": "list",
            "data": _EMPTY_LIST,
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
        "total_pretax_credit_amounts": _EMPTY_LIST,
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


def refund_obj(
    rid: str,
    amount: int,
    currency: str,
    created: int,
    charge: str,
    pi: str,
    customer: str,
    reason: str,
) -> Obj:
    return {
        "id": rid,
        "object": "refund",
        "amount": amount,
        "balance_transaction": "txn_" + rid[3:],
        "charge": charge,
        "created": created,
        "currency": currency,
        "customer": customer,
        "customer_account": None,
        "destination_details": {"card": {"type": "refund"}, "type": "card"},
        "metadata": _EMPTY_META,
        "payment_intent": pi,
        "payment_method": None,
        "reason": reason,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "succeeded",
        "transfer_reversal": None,
    }


def credit_note_obj(
    cnid: str,
    number: str,
    inv: Obj,
    amount: int,
    created: int,
    line_id: str,
    refund_id: str,
    reason: str,
) -> Obj:
    return {
        "id": cnid,
        "object": "credit_note",
        "amount": amount,
        "amount_shipping": 0,
        "created": created,
        "currency": inv["currency"],
        "customer": inv["customer"],
        "customer_account": None,
        "customer_balance_transaction": None,
        "discount_amount": 0,
        "discount_amounts": _EMPTY_LIST,
        "effective_at": created,
        "invoice": inv["id"],
        "lines": {
            "object": "list",
            "data": [
                {
                    "id": "cnli_" + cnid[3:],
                    "object": "credit_note_line_item",
                    "amount": amount,
                    "description": "Service credit",
                    "discount_amount": 0,
                    "discount_amounts": _EMPTY_LIST,
                    "invoice_line_item": line_id,
                    "livemode": False,
                    "metadata": _EMPTY_META,
                    "pretax_credit_amounts": _EMPTY_LIST,
                    "quantity": 1,
                    "tax_rates": _EMPTY_LIST,
                    "taxes": _EMPTY_LIST,
                    "type": "custom_line_item",
                    "unit_amount": amount,
                    "unit_amount_decimal": str(amount),
                }
            ],
            "has_more": False,
            "url": f"/v1/credit_notes/{cnid}/lines",
        },
        "livemode": False,
        "memo": None,
        "metadata": _EMPTY_META,
        "number": number,
        "out_of_band_amount": None,
        "pdf": f"https://pay.stripe.com/credit_notes/{cnid}/pdf",
        "post_payment_amount": amount,
        "pre_payment_amount": 0,
        "pretax_credit_amounts": _EMPTY_LIST,
        "reason": reason,
        "refunds": [
            {
                "amount_refunded": amount,
                "refund": refund_id,
                "payment_record_refund": None,
                "type": "refund",
            }
        ],
        "shipping_cost": None,
        "status": "issued",
        "subtotal": amount,
        "subtotal_excluding_tax": amount,
        "total": amount,
        "total_excluding_tax": amount,
        "total_taxes": _EMPTY_LIST,
        "type": "post_payment",
        "voided_at": None,
    }


def event_obj(eid: str, etype: str, created: int, obj: Obj, previous: Obj | None) -> Obj:
    data: Obj = {"object": obj}
    if previous is not None:
        data["previous_attributes"] = previous
    return {
        "id": eid,
        "object": "event",
        "api_version": API_VERSION,
        "created": created,
        "data": data,
        "livemode": False,
        "pending_webhooks": 0,
        "request": {"id": None, "idempotency_key": None},
        "type": etype,
    }
