"""The catalogue → rows of `products`, `plans` (prices and legacy plans alike), `coupons`.

A deleted object becomes its id and `deleted` alone: the writer marks the stored row.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from etl.normalize.fields import (
    Malformed,
    Row,
    as_mapping,
    integer,
    json_text,
    ref_id,
    required,
    ts,
)


def normalize_product(obj: Mapping[str, Any]) -> Row:
    pid = required(obj, "id")
    if obj.get("deleted"):
        return {"id": pid, "deleted": True}
    return {
        "id": pid,
        "name": obj.get("name"),
        "active": bool(obj.get("active", True)),
        "metadata_json": json_text(obj.get("metadata")),
        "deleted": False,
        "created": ts(obj.get("created")),
    }


def normalize_price(obj: Mapping[str, Any]) -> Row:
    """A price or a legacy plan (`object` says which) → a plans row."""
    pid = required(obj, "id")
    is_plan = obj.get("object") == "plan"
    source = "stripe_plan" if is_plan else "stripe_price"
    if obj.get("deleted"):
        return {"id": pid, "source": source, "deleted": True}
    currency = required(obj, "currency")
    if is_plan:
        amount = obj.get("amount")
        recurring: Mapping[str, Any] = obj
        ptype = "recurring"
    else:
        amount = obj.get("unit_amount")
        recurring = as_mapping(obj.get("recurring"))
        ptype = obj.get("type") or ("recurring" if recurring else "one_time")
    if amount is None:
        dec = obj.get("amount_decimal") if is_plan else obj.get("unit_amount_decimal")
        if dec is not None and Decimal(str(dec)) == Decimal(str(dec)).to_integral_value():
            amount = int(Decimal(str(dec)))
    interval = recurring.get("interval") if recurring else None
    if interval not in (None, "day", "week", "month", "year"):
        raise Malformed(f"{obj.get('object')} {pid!r} has unknown interval {interval!r}")
    return {
        "id": pid,
        "source": source,
        "product_id": ref_id(obj.get("product")),
        "nickname": obj.get("nickname") or None,
        "amount": integer(amount, None),
        "currency": str(currency).lower(),
        "type": ptype,
        "interval": interval,
        "interval_count": integer(recurring.get("interval_count"), 1) or 1 if recurring else 1,
        "usage_type": (recurring.get("usage_type") if recurring else None) or "licensed",
        "tax_behavior": obj.get("tax_behavior"),
        "active": bool(obj.get("active", True)),
        "metadata_json": json_text(obj.get("metadata")),
        "deleted": False,
        "created": ts(obj.get("created")),
    }


def normalize_coupon(obj: Mapping[str, Any]) -> Row:
    cid = required(obj, "id")
    if obj.get("deleted"):
        return {"id": cid, "deleted": True}
    pct = obj.get("percent_off")
    return {
        "id": cid,
        "name": obj.get("name"),
        "percent_off": Decimal(str(pct)) if pct is not None else None,
        "amount_off": integer(obj.get("amount_off"), None),
        "currency": obj.get("currency"),
        "duration": required(obj, "duration"),
        "duration_in_months": integer(obj.get("duration_in_months"), None),
        "valid": bool(obj.get("valid", True)),
        "deleted": False,
        "created": ts(obj.get("created")),
    }
