"""Discounts, as subscriptions and invoices carry them → `discounts` rows.

A discount arrives expanded (`discounts` of a listed object), as a bare id (event
payloads), or as the legacy single `discount`; the bare ids are returned apart, for the
sync to resolve.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from etl.normalize.fields import Row, as_mapping, ref_id, required, ts


def discount_coupon(discount: Mapping[str, Any]) -> Mapping[str, Any] | str | None:
    """The coupon of a discount: `source.coupon` (current) or `coupon` (legacy)."""
    source = as_mapping(discount.get("source"))
    coupon: Mapping[str, Any] | str | None = source.get("coupon")
    if coupon is None:
        coupon = discount.get("coupon")
    return coupon


def normalize_discount(d: Mapping[str, Any]) -> Row:
    return {
        "id": required(d, "id"),
        "coupon_id": ref_id(discount_coupon(d)),
        "stripe_customer_id": ref_id(d.get("customer")),
        "subscription_id": ref_id(d.get("subscription")),
        # Only a discount applied to one invoice names it; a subscription's discount
        # appears on many invoices and must not take the last one seen.
        "invoice_id": ref_id(d.get("invoice")),
        "starts_at": ts(d.get("start")),
        "ends_at": ts(d.get("end")),
    }


def discount_objects(obj: Mapping[str, Any]) -> tuple[list[Mapping[str, Any]], list[str]]:
    """Expanded discounts and bare discount ids, from `discounts` and legacy `discount`."""
    objects: list[Mapping[str, Any]] = []
    ids: list[str] = []
    for d in obj.get("discounts") or []:
        if isinstance(d, Mapping):
            objects.append(d)
        elif isinstance(d, str):
            ids.append(d)
    legacy = obj.get("discount")
    if (
        isinstance(legacy, Mapping)
        and legacy.get("id")
        and legacy["id"] not in {o.get("id") for o in objects}
    ):
        objects.append(legacy)
    return objects, ids
