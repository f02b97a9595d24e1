"""Stripe objects (plain dicts) → rows of the normalized tables. Pure functions, no I/O.

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

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

_EPOCH = datetime(1970, 1, 1)

Row = dict[str, Any]


class Malformed(ValueError):
    """The object cannot be normalized; it is kept raw and counted."""


def ts(value: Any) -> datetime | None:
    """Epoch seconds → naive UTC datetime (None stays None)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Malformed(f"timestamp expected, got {value!r}")
    return _EPOCH + timedelta(seconds=int(value))


def ref_id(value: Any) -> str | None:
    """An id whether the field holds the id or the expanded object."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        v = value.get("id")
        return v if isinstance(v, str) else None
    raise Malformed(f"reference expected, got {type(value).__name__}")


def _req(obj: Mapping[str, Any], key: str) -> Any:
    value = obj.get(key)
    if value is None:
        raise Malformed(f"{obj.get('object', 'object')} {obj.get('id')!r} has no {key}")
    return value


def _int(value: Any, default: int | None = 0) -> int | None:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.isascii() and value.lstrip("-").isdigit():
            return int(value)
        raise Malformed(f"integer expected, got {value!r}")
    return value


def _json(value: Any) -> str | None:
    if not value:
        return None
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _sum_amounts(items: Any) -> int:
    if not items:
        return 0
    total = 0
    for it in items:
        total += _int(it.get("amount"), 0) or 0
    return total


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


# ---------------------------------------------------------------- customers


def _card_country(src: Any) -> str | None:
    src = _dict(src)
    if not src:
        return None
    for candidate in (
        src.get("country"),
        _dict(src.get("card")).get("country"),
        src.get("address_country"),
        _dict(_dict(src.get("billing_details")).get("address")).get("country"),
        _dict(_dict(src.get("owner")).get("address")).get("country"),
    ):
        if isinstance(candidate, str) and candidate:
            return candidate
    return None


def customer_country(obj: Mapping[str, Any]) -> str | None:
    """The address's country, else the default card's (or default source's) country."""
    country = _dict(obj.get("address")).get("country")
    if country:
        return str(country).upper()[:2]
    default = obj.get("default_source")
    candidates: list[Any] = [default]
    if isinstance(default, str):
        sources = _dict(obj.get("sources")).get("data") or []
        candidates = [s for s in sources if _dict(s).get("id") == default]
    candidates.append(_dict(obj.get("invoice_settings")).get("default_payment_method"))
    for c in candidates:
        found = _card_country(c)
        if found:
            return found.upper()[:2]
    return None


def normalize_customer(obj: Mapping[str, Any], extra_id_key: str = "extra_id") -> Row:
    sid = _req(obj, "id")
    if obj.get("deleted"):
        return {"stripe_id": sid, "deleted": True}
    country = customer_country(obj)
    state = _dict(obj.get("address")).get("state") if country == "US" else None
    metadata = _dict(obj.get("metadata"))
    extra = metadata.get(extra_id_key)
    email = obj.get("email") or None
    currency = obj.get("currency")
    return {
        "stripe_id": sid,
        "extra_id": str(extra) if extra not in (None, "") else None,
        "email": email,
        "name": obj.get("name") or None,
        "currency": currency.lower() if isinstance(currency, str) else None,
        "country": country,
        "state": state or None,
        "metadata_json": _json(metadata),
        "deleted": False,
        "created": ts(obj.get("created")),
    }


# ---------------------------------------------------------------- catalogue


def normalize_product(obj: Mapping[str, Any]) -> Row:
    pid = _req(obj, "id")
    if obj.get("deleted"):
        return {"id": pid, "deleted": True}
    return {
        "id": pid,
        "name": obj.get("name"),
        "active": bool(obj.get("active", True)),
        "metadata_json": _json(obj.get("metadata")),
        "deleted": False,
        "created": ts(obj.get("created")),
    }


def normalize_price(obj: Mapping[str, Any]) -> Row:
    """A price or a legacy plan (`object` says which) → a plans row."""
    pid = _req(obj, "id")
    is_plan = obj.get("object") == "plan"
    source = "stripe_plan" if is_plan else "stripe_price"
    if obj.get("deleted"):
        return {"id": pid, "source": source, "deleted": True}
    currency = _req(obj, "currency")
    if is_plan:
        amount = obj.get("amount")
        recurring: Mapping[str, Any] = obj
        ptype = "recurring"
    else:
        amount = obj.get("unit_amount")
        recurring = _dict(obj.get("recurring"))
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
        "amount": _int(amount, None),
        "currency": str(currency).lower(),
        "type": ptype,
        "interval": interval,
        "interval_count": _int(recurring.get("interval_count"), 1) or 1 if recurring else 1,
        "usage_type": (recurring.get("usage_type") if recurring else None) or "licensed",
        "tax_behavior": obj.get("tax_behavior"),
        "active": bool(obj.get("active", True)),
        "metadata_json": _json(obj.get("metadata")),
        "deleted": False,
        "created": ts(obj.get("created")),
    }


def normalize_coupon(obj: Mapping[str, Any]) -> Row:
    cid = _req(obj, "id")
    if obj.get("deleted"):
        return {"id": cid, "deleted": True}
    pct = obj.get("percent_off")
    return {
        "id": cid,
        "name": obj.get("name"),
        "percent_off": Decimal(str(pct)) if pct is not None else None,
        "amount_off": _int(obj.get("amount_off"), None),
        "currency": obj.get("currency"),
        "duration": _req(obj, "duration"),
        "duration_in_months": _int(obj.get("duration_in_months"), None),
        "valid": bool(obj.get("valid", True)),
        "deleted": False,
        "created": ts(obj.get("created")),
    }


# ---------------------------------------------------------------- discounts


def discount_coupon(discount: Mapping[str, Any]) -> Mapping[str, Any] | str | None:
    """The coupon of a discount: `source.coupon` (current) or `coupon` (legacy)."""
    source = _dict(discount.get("source"))
    if source.get("coupon") is not None:
        return source["coupon"]  # type: ignore[no-any-return]
    return discount.get("coupon")  # type: ignore[no-any-return]


def normalize_discount(d: Mapping[str, Any]) -> Row:
    return {
        "id": _req(d, "id"),
        "coupon_id": ref_id(discount_coupon(d)),
        "stripe_customer_id": ref_id(d.get("customer")),
        "subscription_id": ref_id(d.get("subscription")),
        # Only a discount applied to one invoice names it; a subscription's discount
        # appears on many invoices and must not take the last one seen.
        "invoice_id": ref_id(d.get("invoice")),
        "starts_at": ts(d.get("start")),
        "ends_at": ts(d.get("end")),
    }


def _discount_objects(obj: Mapping[str, Any]) -> tuple[list[Mapping[str, Any]], list[str]]:
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


@dataclass
class Normalized:
    """Rows for one object and its children, by table."""

    rows: dict[str, list[Row]] = field(default_factory=dict)
    # Discount ids the object references without their content (not expanded).
    unexpanded_discounts: list[str] = field(default_factory=list)

    def add(self, table: str, row: Row) -> None:
        self.rows.setdefault(table, []).append(row)


# ---------------------------------------------------------------- subscriptions


def normalize_subscription(obj: Mapping[str, Any]) -> Normalized:
    sid = _req(obj, "id")
    out = Normalized()
    items = _dict(obj.get("items")).get("data") or []
    item_rows: list[Row] = []
    for it in items:
        price = it.get("price") or it.get("plan")
        item_rows.append(
            {
                "id": _req(it, "id"),
                "subscription_id": sid,
                "plan_id": ref_id(price),
                "quantity": _int(it.get("quantity"), 1) if it.get("quantity") is not None else 1,
                # Current API: periods live on items; legacy: on the subscription.
                "current_period_start": ts(
                    it.get("current_period_start", obj.get("current_period_start"))
                ),
                "current_period_end": ts(
                    it.get("current_period_end", obj.get("current_period_end"))
                ),
                "created": ts(it.get("created")),
            }
        )
    if "current_period_start" in obj:
        period_start = ts(obj.get("current_period_start"))
        period_end = ts(obj.get("current_period_end"))
    else:
        starts = [r["current_period_start"] for r in item_rows if r["current_period_start"]]
        ends = [r["current_period_end"] for r in item_rows if r["current_period_end"]]
        period_start = min(starts) if starts else None
        period_end = max(ends) if ends else None
    discounts, bare = _discount_objects(obj)
    coupon_id = None
    for d in discounts:
        coupon_id = coupon_id or ref_id(discount_coupon(d))
        row = normalize_discount(d)
        row["subscription_id"] = row["subscription_id"] or sid
        row["stripe_customer_id"] = row["stripe_customer_id"] or ref_id(obj.get("customer"))
        out.add("discounts", row)
    out.unexpanded_discounts.extend(bare)
    currency = obj.get("currency")
    if currency is None and items:
        currency = _dict(items[0].get("price") or items[0].get("plan")).get("currency")
    out.add(
        "subscriptions",
        {
            "id": sid,
            "stripe_customer_id": ref_id(_req(obj, "customer")),
            "status": _req(obj, "status"),
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
            "metadata_json": _json(obj.get("metadata")),
            "created": ts(obj.get("created")),
        },
    )
    out.rows["subscription_items"] = item_rows
    # Embedded prices are catalogue objects too; keeps items' plan_id resolvable.
    return out


# ---------------------------------------------------------------- invoices


def invoice_subscription(obj: Mapping[str, Any]) -> str | None:
    details = _dict(_dict(obj.get("parent")).get("subscription_details"))
    if details.get("subscription"):
        return ref_id(details["subscription"])
    return ref_id(obj.get("subscription"))


def _line_parent(line: Mapping[str, Any]) -> tuple[str | None, Mapping[str, Any]]:
    parent = _dict(line.get("parent"))
    ptype = parent.get("type")
    if ptype:
        return str(ptype), _dict(parent.get(ptype))
    return None, {}


def normalize_line(
    line: Mapping[str, Any], *, invoice_id: str, position: int, currency: str | None = None
) -> Row:
    lid = _req(line, "id")
    ptype, details = _line_parent(line)
    if ptype is not None:
        # Current shape.
        line_type = "subscription" if ptype == "subscription_item_details" else "invoiceitem"
        proration = bool(details.get("proration"))
        subscription_id = ref_id(details.get("subscription"))
        subscription_item_id = ref_id(details.get("subscription_item"))
        invoice_item_id = ref_id(details.get("invoice_item"))
        pricing = _dict(line.get("pricing"))
        plan_id = ref_id(_dict(pricing.get("price_details")).get("price"))
        if plan_id is None:
            plan_id = ref_id(line.get("price")) or ref_id(line.get("plan"))
    else:
        # Legacy shape (before 2025-03-31).
        line_type = line.get("type") or "invoiceitem"
        if line_type == "line_item":
            line_type = "invoiceitem"
        proration = bool(line.get("proration"))
        subscription_id = ref_id(line.get("subscription"))
        subscription_item_id = ref_id(line.get("subscription_item"))
        invoice_item_id = ref_id(line.get("invoice_item"))
        if invoice_item_id is None and line_type == "invoiceitem" and lid.startswith("ii_"):
            invoice_item_id = lid
        plan_id = ref_id(line.get("price")) or ref_id(line.get("plan"))
    if line.get("taxes") is not None:
        taxes = line.get("taxes") or []
        tax = _sum_amounts(taxes)
        inclusive = _sum_amounts([t for t in taxes if t.get("tax_behavior") == "inclusive"])
    else:
        taxes = line.get("tax_amounts") or []
        tax = _sum_amounts(taxes)
        inclusive = _sum_amounts([t for t in taxes if t.get("inclusive")])
    period = _dict(line.get("period"))
    line_currency = line.get("currency") or currency
    if line_currency is None:
        raise Malformed(f"line {lid!r} has no currency")
    amount = line.get("amount")
    if amount is None:
        raise Malformed(f"line {lid!r} has no amount")
    return {
        "id": lid,
        "invoice_id": invoice_id,
        "position": position,
        "subscription_id": subscription_id,
        "subscription_item_id": subscription_item_id,
        "invoice_item_id": invoice_item_id,
        "plan_id": plan_id,
        "line_type": line_type,
        "proration": proration,
        "currency": str(line_currency).lower(),
        "amount": _int(amount),
        "discount_amount": _sum_amounts(line.get("discount_amounts")),
        "tax_amount": tax,
        "inclusive_tax_amount": inclusive,
        "quantity": _int(line.get("quantity"), None),
        "period_start": ts(period.get("start")),
        "period_end": ts(period.get("end")),
        "description": line.get("description"),
    }


def invoice_lines(obj: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(_dict(obj.get("lines")).get("data") or [])


def lines_incomplete(obj: Mapping[str, Any]) -> bool:
    """The embedded first page of lines is not all of them."""
    return bool(_dict(obj.get("lines")).get("has_more"))


def invoice_payment_intent(obj: Mapping[str, Any]) -> str | None:
    """Current API: the default (else first) payment of `payments`; legacy: `payment_intent`."""
    found = None
    for p in _dict(obj.get("payments")).get("data") or []:
        payment = _dict(_dict(p).get("payment"))
        if (
            payment.get("type") == "payment_intent"
            and payment.get("payment_intent")
            and (p.get("is_default") or found is None)
        ):
            found = ref_id(payment["payment_intent"])
    return found or ref_id(obj.get("payment_intent"))


def normalize_invoice(obj: Mapping[str, Any]) -> Normalized:
    """An invoice with every line it carries (the caller has paged the rest in)."""
    iid = _req(obj, "id")
    out = Normalized()
    currency = str(_req(obj, "currency")).lower()
    status = _req(obj, "status")
    lines = [
        normalize_line(line, invoice_id=iid, position=i, currency=currency)
        for i, line in enumerate(invoice_lines(obj))
    ]
    if obj.get("total_taxes") is not None:
        tax = _sum_amounts(obj.get("total_taxes"))
    elif obj.get("tax") is not None:
        tax = _int(obj.get("tax")) or 0
    else:
        tax = _sum_amounts(obj.get("total_tax_amounts"))
    # The service period is the lines' (Stripe's own invoice period_* is the
    # previous period for subscription renewals); without lines, Stripe's.
    starts = [r["period_start"] for r in lines if r["period_start"]]
    ends = [r["period_end"] for r in lines if r["period_end"]]
    transitions = _dict(obj.get("status_transitions"))
    discounts, bare = _discount_objects(obj)
    for d in discounts:
        row = normalize_discount(d)
        row["stripe_customer_id"] = row["stripe_customer_id"] or ref_id(obj.get("customer"))
        out.add("discounts", row)
    out.unexpanded_discounts.extend(bare)
    out.add(
        "invoices",
        {
            "id": iid,
            "source": "stripe",
            "stripe_customer_id": ref_id(_req(obj, "customer")),
            "subscription_id": invoice_subscription(obj),
            "status": status,
            "billing_reason": obj.get("billing_reason"),
            "currency": currency,
            "subtotal": _int(obj.get("subtotal")),
            "discount": _sum_amounts(obj.get("total_discount_amounts")),
            "tax": tax,
            "total": _int(obj.get("total")),
            "amount_due": _int(obj.get("amount_due")),
            "amount_paid": _int(obj.get("amount_paid")),
            "description": obj.get("description"),
            "number": obj.get("number"),
            "created": ts(obj.get("created")),
            "due_date": ts(obj.get("due_date")),
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
    iid = _req(obj, "id")
    if obj.get("deleted"):
        return {"id": iid, "deleted": True}
    parent = _dict(obj.get("parent"))
    subscription = ref_id(_dict(parent.get("subscription_details")).get("subscription"))
    subscription = subscription or ref_id(obj.get("subscription"))
    pricing = _dict(obj.get("pricing"))
    plan_id = ref_id(_dict(pricing.get("price_details")).get("price"))
    plan_id = plan_id or ref_id(obj.get("price")) or ref_id(obj.get("plan"))
    proration = obj.get("proration")
    if proration is None:
        proration = _dict(parent.get("subscription_details")).get("proration")
    period = _dict(obj.get("period"))
    return {
        "id": iid,
        "stripe_customer_id": ref_id(obj.get("customer")),
        "invoice_id": ref_id(obj.get("invoice")),
        "subscription_id": subscription,
        "plan_id": plan_id,
        "amount": _int(_req(obj, "amount")),
        "currency": str(_req(obj, "currency")).lower(),
        "quantity": _int(obj.get("quantity"), None),
        "proration": bool(proration),
        "description": obj.get("description"),
        "period_start": ts(period.get("start")),
        "period_end": ts(period.get("end")),
        "deleted": False,
        "created": ts(obj.get("date", obj.get("created"))),
    }


def normalize_credit_note(obj: Mapping[str, Any]) -> Row:
    if obj.get("total_taxes") is not None:
        tax = _sum_amounts(obj.get("total_taxes"))
    else:
        tax = _sum_amounts(obj.get("tax_amounts"))
    return {
        "id": _req(obj, "id"),
        "invoice_id": ref_id(obj.get("invoice")),
        "stripe_customer_id": ref_id(obj.get("customer")),
        "amount": _int(_req(obj, "amount")),
        "tax_amount": tax,
        "currency": str(_req(obj, "currency")).lower(),
        "status": _req(obj, "status"),
        "reason": obj.get("reason"),
        "created": ts(obj.get("created")),
    }


def normalize_refund(obj: Mapping[str, Any]) -> Row:
    metadata = _dict(obj.get("metadata"))
    charge = obj.get("charge")
    invoice = metadata.get("invoice") or metadata.get("invoice_id")
    if invoice is None and isinstance(charge, Mapping):
        invoice = ref_id(charge.get("invoice"))
    customer = ref_id(obj.get("customer"))
    if customer is None and isinstance(charge, Mapping):
        customer = ref_id(charge.get("customer"))
    return {
        "id": _req(obj, "id"),
        "charge_id": ref_id(charge),
        "payment_intent_id": ref_id(obj.get("payment_intent")),
        "invoice_id": invoice,
        "stripe_customer_id": customer,
        "amount": _int(_req(obj, "amount")),
        "currency": str(_req(obj, "currency")).lower(),
        "status": _req(obj, "status"),
        "reason": obj.get("reason"),
        "created": ts(obj.get("created")),
    }
