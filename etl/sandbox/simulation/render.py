"""Builders of Stripe objects in the current API's shapes (API version 2026-10-28.endive):
customers, subscriptions and their items, discounts, refunds, credit notes, events
(invoices, their lines and invoice items: `render_invoice`).

Every builder returns a NEW dict (line and invoice builders share, through the
account's `cache`, the nested dicts that are identical across objects: a line's
`pricing`, a subscription item line's `parent`, an invoice's `parent`). The simulation
never mutates an object once it is in `Account.objects`: a change builds a new dict
(copy-on-write) and replaces the old one. That is what lets an event's `data.object` be
the object itself, with no copying, and stay a faithful snapshot. Nested constants below
(`EMPTY_LIST`, `EMPTY_META`, ...) are shared between objects and must never be mutated
either.
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
_CUSTOMER_INVOICE_SETTINGS: Obj = {
    "custom_fields": None,
    "default_payment_method": None,
    "footer": None,
    "rendering_options": None,
}
EMPTY_LIST: list[Any] = []
EMPTY_META: Obj = {}


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
        "preferred_locales": EMPTY_LIST,
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
        "discounts": EMPTY_LIST,
        "metadata": EMPTY_META,
        "plan": plan,
        "price": price,
        "quantity": quantity,
        "subscription": sub_id,
        "tax_rates": EMPTY_LIST,
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
    # one Stripe object literal (every key of Stripe's example), clearer whole
    return {
        "id": sid,
        "object": "subscription",
        "application": None,
        "application_fee_percent": None,
        "automatic_tax": _SUB_AUTOMATIC_TAX,
        "billing_cycle_anchor": anchor,
        "billing_cycle_anchor_config": None,
        "billing_mode": _BILLING_MODE,
        "billing_schedules": EMPTY_LIST,
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
        "default_tax_rates": EMPTY_LIST,
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
        "metadata": EMPTY_META,
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
    # one Stripe object literal (every key of Stripe's example), clearer whole
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
        "discount_amounts": EMPTY_LIST,
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
                    "discount_amounts": EMPTY_LIST,
                    "invoice_line_item": line_id,
                    "livemode": False,
                    "metadata": EMPTY_META,
                    "pretax_credit_amounts": EMPTY_LIST,
                    "quantity": 1,
                    "tax_rates": EMPTY_LIST,
                    "taxes": EMPTY_LIST,
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
        "metadata": EMPTY_META,
        "number": number,
        "out_of_band_amount": None,
        "pdf": f"https://pay.stripe.com/credit_notes/{cnid}/pdf",
        "post_payment_amount": amount,
        "pre_payment_amount": 0,
        "pretax_credit_amounts": EMPTY_LIST,
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
        "total_taxes": EMPTY_LIST,
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
