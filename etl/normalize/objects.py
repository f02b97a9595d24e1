"""Stripe objects (plain dicts) → rows of the normalized tables: every family's
normalizer under one name (`from etl.normalize import objects as n`). Pure, no I/O.

Both object shapes parse, because event payloads keep the API version the object was
created under: the current one (invoice `parent.subscription_details`, line `pricing`
and `parent.*_details`, periods on subscription items) and the one before 2025-03-31
(top-level `invoice.subscription`, line `price`/`plan`/`proration`/`type`, subscription
`current_period_*`).

Customer references stay Stripe ids here (`stripe_customer_id`); the writer maps them to
integer `customers.id` set-based. A function raises `Malformed` when an object lacks
what its table cannot do without, so that the caller stores it raw and counts it.
"""

from __future__ import annotations

from etl.normalize.catalogue import normalize_coupon, normalize_price, normalize_product
from etl.normalize.customers import customer_country, normalize_customer
from etl.normalize.discounts import discount_coupon, normalize_discount
from etl.normalize.fields import Malformed, Normalized, Row, ref_id, ts
from etl.normalize.invoices import (
    invoice_payment_intent,
    invoice_subscription,
    normalize_invoice,
    normalize_invoice_item,
)
from etl.normalize.lines import invoice_lines, lines_incomplete, normalize_line
from etl.normalize.refunds import normalize_credit_note, normalize_refund
from etl.normalize.subscriptions import normalize_subscription

__all__ = [
    "Malformed",
    "Normalized",
    "Row",
    "customer_country",
    "discount_coupon",
    "invoice_lines",
    "invoice_payment_intent",
    "invoice_subscription",
    "lines_incomplete",
    "normalize_coupon",
    "normalize_credit_note",
    "normalize_customer",
    "normalize_discount",
    "normalize_invoice",
    "normalize_invoice_item",
    "normalize_line",
    "normalize_price",
    "normalize_product",
    "normalize_refund",
    "normalize_subscription",
    "ref_id",
    "ts",
]
