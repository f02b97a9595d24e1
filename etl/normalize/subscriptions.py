"""Subscriptions → rows of `subscriptions`, `subscription_items` and their `discounts`.

Periods moved from the subscription to its items with API 2025-03-31: an item takes its
own period, else the subscription's; the subscription's period is its own, else the
span of its items'.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from etl.normalize.discounts import discount_coupon, discount_objects, normalize_discount
from etl.normalize.fields import (
    Normalized,
    Row,
    as_mapping,
    integer,
    json_text,
    ref_id,
    required,
    ts,
)


def _item_row(item: Mapping[str, Any], subscription: Mapping[str, Any], sid: str) -> Row:
    price = item.get("price") or item.get("plan")
    quantity = item.get("quantity")
    return {
        "id": required(item, "id"),
        "subscription_id": sid,
        "plan_id": ref_id(price),
        "quantity": integer(quantity, 1) if quantity is not None else 1,
        # Current API: periods live on items; legacy: on the subscription.
        "current_period_start": ts(
            item.get("current_period_start", subscription.get("current_period_start"))
        ),
        "current_period_end": ts(
            item.get("current_period_end", subscription.get("current_period_end"))
        ),
        "created": ts(item.get("created")),
    }


def _period(
    obj: Mapping[str, Any], item_rows: Sequence[Row]
) -> tuple[datetime | None, datetime | None]:
    if "current_period_start" in obj:
        return ts(obj.get("current_period_start")), ts(obj.get("current_period_end"))
    starts = [r["current_period_start"] for r in item_rows if r["current_period_start"]]
    ends = [r["current_period_end"] for r in item_rows if r["current_period_end"]]
    return (min(starts) if starts else None), (max(ends) if ends else None)


def _add_discounts(out: Normalized, obj: Mapping[str, Any], sid: str) -> str | None:
    """The subscription's discounts into `out`; returns the coupon of the first."""
    discounts, bare = discount_objects(obj)
    coupon_id = None
    for d in discounts:
        coupon_id = coupon_id or ref_id(discount_coupon(d))
        row = normalize_discount(d)
        row["subscription_id"] = row["subscription_id"] or sid
        row["stripe_customer_id"] = row["stripe_customer_id"] or ref_id(obj.get("customer"))
        out.add("discounts", row)
    out.unexpanded_discounts.extend(bare)
    return coupon_id


def normalize_subscription(obj: Mapping[str, Any]) -> Normalized:
    sid = required(obj, "id")
    out = Normalized()
    items = as_mapping(obj.get("items")).get("data") or []
    item_rows = [_item_row(it, obj, sid) for it in items]
    period_start, period_end = _period(obj, item_rows)
    coupon_id = _add_discounts(out, obj, sid)
    currency = obj.get("currency")
    if currency is None and items:
        currency = as_mapping(items[0].get("price") or items[0].get("plan")).get("currency")
    out.add(
        "subscriptions",
        {
            "id": sid,
            "stripe_customer_id": ref_id(required(obj, "customer")),
            "status": required(obj, "status"),
            "currency": currency,
            "start_date": ts(obj.get("start_date")),
            "current_period_start": period_start,
            "current_period_end": period_end,
            "trial_start": ts(obj.get("trial_start")),
            "trial_end": ts(obj.get("trial_end")),
            "cancel_at_period_end": bool(obj.get("cancel_at_period_end")),
            "cancel_at": ts(obj.get("cancel_at")),
            "canceled_at": ts(obj.get("canceled_at")),
            "ended_at": ts(obj.get("ended_at")),
            "coupon_id": coupon_id,
            "metadata_json": json_text(obj.get("metadata")),
            "created": ts(obj.get("created")),
        },
    )
    out.rows["subscription_items"] = item_rows
    return out
