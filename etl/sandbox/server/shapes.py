"""How the sandbox renders stored objects: the current API shape, or the legacy one.

The generator stores every object in the shape of the pinned API version
(2026-10-28.endive). Stripe accounts and event payloads created before API version
2025-03-31 ("basil") look different, and a sync must read both, so the server can
render the old shape on demand:

- invoice: top-level `subscription` and `subscription_details` instead of `parent`;
  `paid`, `tax` and `total_tax_amounts` instead of `total_taxes`;
- invoice line: `type` ("subscription" | "invoiceitem"), `proration`,
  `proration_details`, `subscription`, `subscription_item`, `invoice_item`, the full
  `price` and `plan` objects, `tax_amounts`, instead of `parent`, `pricing`, `taxes`;
- subscription: `current_period_start`/`current_period_end` on the subscription (not
  on its items), and `plan`/`quantity` for single-item subscriptions;
- invoice item: `price`, `plan`, `subscription`, `subscription_item`, `unit_amount`
  instead of `parent`/`pricing`;
- discount: `coupon` (the full coupon) instead of `source`;
- in event payloads of one subscription in three, invoices in a version before
  2019-12-03 (`PRE_2019_API_VERSION`): line ids shared across invoices (`sli_…`, `ii_…`)
  and the line's own id in `unique_id`.

Keys starting with "_" are the generator's private markers (top-level only, e.g.
`_deleted`) and are never rendered.

Rendering copies only what it changes: the result is a new top-level dict whose
unchanged nested values are the stored ones, so callers serialize it (or round-trip
it through JSON) before changing anything nested. That keeps a cold page of 100
invoices at the cost of its JSON encoding rather than of a deep copy.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from typing import Any, Literal

ApiShapes = Literal["current", "legacy"]
API_SHAPES: tuple[str, ...] = ("current", "legacy")

# Stripe embeds at most this many lines in an invoice (or credit note); the rest are
# served by the /lines sub-resource.
EMBEDDED_LINES = 10
# The API version whose shapes `legacy` reproduces (the last one before 2025-03-31).
LEGACY_API_VERSION = "2025-02-24.acacia"

# Event payloads of a share of the subscriptions' invoices are rendered in a version
# before 2019-12-03, whose line ids several invoices share (see `_pre_2019_line_ids`).
PRE_2019_API_VERSION = "2019-10-17"
PRE_2019_SHARE = 3  # one subscription in three (by a hash of its id)

Obj = dict[str, Any]
# Pseudo-resource for `Lookup`: the charge ({"id": "ch_…"}) that paid an invoice id.
CHARGE_OF_INVOICE = "_charge_of_invoice"
# Finds a stored object by resource name and id (for prices and coupons that the
# legacy shapes embed in full).
Lookup = Callable[[str, str], "Obj | None"]


def public(obj: Mapping[str, Any]) -> Obj:
    """A shallow copy without the private ("_"-prefixed) keys."""
    # API keys are lower-case, so when the smallest key sorts after "_" (and "`")
    # there is no private key: one C-level pass instead of a Python loop.
    if not obj or min(obj) > "`":
        return dict(obj)
    return {k: v for k, v in obj.items() if not k.startswith("_")}


def render(obj: Mapping[str, Any], shapes: str, lookup: Lookup) -> Obj:
    """The object as the API returns it; nested values may be shared with `obj`."""
    return _shape(public(obj), shapes, lookup)


def _shape(out: Obj, shapes: str, lookup: Lookup) -> Obj:
    kind = out.get("object")
    if kind == "invoice":
        out["lines"] = embedded_lines(out.get("lines"), f"/v1/invoices/{out.get('id')}/lines")
        if shapes == "legacy":
            _legacy_invoice(out, lookup)
    elif kind == "credit_note":
        out["lines"] = embedded_lines(out.get("lines"), f"/v1/credit_notes/{out.get('id')}/lines")
    elif kind == "event":
        _event(out, shapes, lookup)
    elif shapes == "legacy":
        if kind == "subscription":
            _legacy_subscription(out)
        elif kind == "line_item":
            legacy_line(out, lookup)
        elif kind == "invoiceitem":
            _legacy_invoiceitem(out, lookup)
        elif kind == "discount":
            legacy_discount(out, lookup)
    if shapes == "legacy" and kind in ("subscription", "invoice", "customer"):
        _legacy_discounts_in(out, lookup)
    return out


def embedded_lines(lines: Any, url: str) -> Obj:
    data = []
    if isinstance(lines, dict):
        data = list(lines.get("data") or [])
    elif isinstance(lines, list):
        data = list(lines)
    return {
        "object": "list",
        "data": data[:EMBEDDED_LINES],
        "has_more": len(data) > EMBEDDED_LINES,
        "url": url,
    }


# --- legacy shapes ---------------------------------------------------------------


def plan_from_price(price: Mapping[str, Any] | None) -> Obj | None:
    """The Plan view of a recurring price, as old API versions embedded it."""
    if not price:
        return None
    if price.get("object") == "plan":
        return public(price)
    recurring = price.get("recurring")
    if not recurring:
        return None
    return {
        "id": price.get("id"),
        "object": "plan",
        "active": price.get("active", True),
        "aggregate_usage": None,
        "amount": price.get("unit_amount"),
        "amount_decimal": price.get("unit_amount_decimal"),
        "billing_scheme": price.get("billing_scheme", "per_unit"),
        "created": price.get("created"),
        "currency": price.get("currency"),
        "interval": recurring.get("interval"),
        "interval_count": recurring.get("interval_count", 1),
        "livemode": price.get("livemode", False),
        "metadata": price.get("metadata", {}),
        "meter": recurring.get("meter"),
        "nickname": price.get("nickname"),
        "product": price.get("product"),
        "tiers_mode": price.get("tiers_mode"),
        "transform_usage": None,
        "trial_period_days": recurring.get("trial_period_days"),
        "usage_type": recurring.get("usage_type", "licensed"),
    }


def _price_of(pricing: Any, lookup: Lookup) -> Obj | None:
    if not isinstance(pricing, dict):
        return None
    details = pricing.get("price_details") or {}
    price = details.get("price")
    if isinstance(price, dict):
        return public(price)
    if isinstance(price, str):
        found = lookup("price", price) or lookup("plan", price)
        return public(found) if found else None
    return None


def _tax_amounts(taxes: Any) -> list[Obj]:
    out: list[Obj] = []
    for tax in taxes or []:
        details = tax.get("tax_rate_details") or {}
        out.append(
            {
                "amount": tax.get("amount", 0),
                "inclusive": tax.get("tax_behavior") == "inclusive",
                "tax_rate": details.get("tax_rate"),
                "taxability_reason": tax.get("taxability_reason"),
                "taxable_amount": tax.get("taxable_amount"),
            }
        )
    return out


def legacy_line(line: Obj, lookup: Lookup) -> Obj:
    parent = line.pop("parent", None) or {}
    kind = parent.get("type")
    if kind == "subscription_item_details":
        details = parent.get("subscription_item_details") or {}
        line["type"] = "subscription"
    else:
        details = parent.get("invoice_item_details") or {}
        line["type"] = "invoiceitem"
    pricing = line.pop("pricing", None)
    price = _price_of(pricing, lookup)
    line["price"] = price
    line["plan"] = plan_from_price(price)
    line["proration"] = bool(details.get("proration", False))
    line["proration_details"] = details.get("proration_details") or {"credited_items": None}
    line["subscription"] = details.get("subscription", line.get("subscription"))
    line["subscription_item"] = details.get("subscription_item")
    line["invoice_item"] = details.get("invoice_item")
    taxes = line.pop("taxes", None)
    line["tax_amounts"] = _tax_amounts(taxes)
    line["tax_rates"] = []
    amount = line.get("amount", 0)
    line["amount_excluding_tax"] = amount
    unit = (pricing or {}).get("unit_amount_decimal") if isinstance(pricing, dict) else None
    line["unit_amount_excluding_tax"] = unit
    for key in ("pretax_credit_amounts", "quantity_decimal", "subtotal"):
        line.pop(key, None)
    return line


def _legacy_invoice(inv: Obj, lookup: Lookup) -> None:
    parent = inv.pop("parent", None) or {}
    sub_details = parent.get("subscription_details") if isinstance(parent, dict) else None
    if parent.get("type") == "subscription_details" and sub_details:
        inv["subscription"] = sub_details.get("subscription")
        inv["subscription_details"] = {"metadata": sub_details.get("metadata") or {}}
    else:
        inv["subscription"] = None
        inv["subscription_details"] = {"metadata": None}
    inv["quote"] = (parent.get("quote_details") or {}).get("quote") if parent else None
    total_taxes = inv.pop("total_taxes", None)
    inv["total_tax_amounts"] = _tax_amounts(total_taxes)
    inv["tax"] = sum(t["amount"] for t in inv["total_tax_amounts"]) if total_taxes else None
    inv["paid"] = inv.get("status") == "paid"
    inv["paid_out_of_band"] = False
    # Invoice payments arrived with 2025-03-31; before, the invoice named its payment.
    payments = inv.pop("payments", None) or {}
    intent = None
    for payment in payments.get("data") or []:
        details = payment.get("payment") or {}
        if details.get("type") == "payment_intent" and (
            payment.get("is_default") or intent is None
        ):
            intent = details.get("payment_intent")
    inv["payment_intent"] = intent
    charge = lookup(CHARGE_OF_INVOICE, str(inv.get("id")))
    inv["charge"] = charge.get("id") if charge else None
    inv.pop("total_pretax_credit_amounts", None)
    inv.pop("amount_overpaid", None)
    inv["lines"]["data"] = [legacy_line(dict(line), lookup) for line in inv["lines"]["data"]]


def _legacy_subscription(sub: Obj) -> None:
    listed = dict(sub.get("items") or {})
    items = [dict(item) for item in listed.get("data") or []]
    listed["data"] = items
    sub["items"] = listed
    starts: list[int] = [i["current_period_start"] for i in items if i.get("current_period_start")]
    ends: list[int] = [i["current_period_end"] for i in items if i.get("current_period_end")]
    sub["current_period_start"] = min(starts) if starts else None
    sub["current_period_end"] = max(ends) if ends else None
    for item in items:
        item.pop("current_period_start", None)
        item.pop("current_period_end", None)
    if len(items) == 1:
        sub["plan"] = items[0].get("plan") or plan_from_price(items[0].get("price"))
        sub["quantity"] = items[0].get("quantity")
    else:
        sub["plan"] = None
        sub["quantity"] = None


def _legacy_invoiceitem(item: Obj, lookup: Lookup) -> None:
    parent = item.pop("parent", None) or {}
    details = parent.get("subscription_details") or {}
    pricing = item.pop("pricing", None)
    price = _price_of(pricing, lookup)
    item["price"] = price
    item["plan"] = plan_from_price(price)
    item["subscription"] = details.get("subscription")
    item["subscription_item"] = details.get("subscription_item")
    unit = pricing.get("unit_amount_decimal") if isinstance(pricing, dict) else None
    item["unit_amount_decimal"] = unit
    item["unit_amount"] = int(float(unit)) if unit is not None else None
    item.pop("net_amount", None)
    item.pop("quantity_decimal", None)


def legacy_discount(disc: Obj, lookup: Lookup) -> Obj:
    source = disc.pop("source", None) or {}
    coupon = source.get("coupon")
    if isinstance(coupon, str):
        found = lookup("coupon", coupon)
        coupon = public(found) if found else {"id": coupon, "object": "coupon"}
    disc["coupon"] = coupon
    return disc


def _legacy_discounts_in(obj: Obj, lookup: Lookup) -> None:
    # Expanded discounts inside a legacy object are rendered in the old shape too.
    discounts = obj.get("discounts")
    if isinstance(discounts, list) and any(isinstance(d, dict) for d in discounts):
        obj["discounts"] = [
            legacy_discount(dict(d), lookup) if isinstance(d, dict) and "source" in d else d
            for d in discounts
        ]
    if isinstance(obj.get("discount"), dict) and "source" in obj["discount"]:
        obj["discount"] = legacy_discount(dict(obj["discount"]), lookup)


def _event(evt: Obj, shapes: str, lookup: Lookup) -> None:
    data = dict(evt.get("data") or {})
    evt["data"] = data
    inner = data.get("object")
    if isinstance(inner, dict):
        data["object"] = _shape(public(inner), shapes, lookup)
    if shapes != "legacy":
        return
    evt["api_version"] = LEGACY_API_VERSION
    if isinstance(inner, dict) and inner.get("object") == "invoice" and _pre_2019(inner):
        evt["api_version"] = PRE_2019_API_VERSION
        data["object"] = _pre_2019_line_ids(data["object"])
    prev = data.get("previous_attributes")
    if isinstance(prev, dict):
        # Old payloads have no `parent`/`pricing` containers: drop them from the diff.
        data["previous_attributes"] = {
            k: v for k, v in prev.items() if k not in ("parent", "pricing", "payments")
        }


def _pre_2019(inv: Mapping[str, Any]) -> bool:
    parent = inv.get("parent") or {}
    details = parent.get("subscription_details") or {}
    sub = details.get("subscription") or inv.get("subscription")
    return isinstance(sub, str) and zlib.crc32(sub.encode()) % PRE_2019_SHARE == 0


def _pre_2019_line_ids(inv: Obj) -> Obj:
    """Line ids as Stripe gave them before 2019-12-03: a subscription line's id is its
    subscription item's `sli_…` (the same on every invoice of that item), an invoice
    item line's id is the invoice item's `ii_…`; `unique_id` holds the line's own id."""
    lines = dict(inv["lines"])
    out = []
    for line in lines.get("data") or []:
        old = {**line, "unique_id": line["id"]}
        item = line.get("subscription_item")
        if line.get("type") == "subscription" and isinstance(item, str):
            old["id"] = "sli_" + item.split("_", 1)[-1]
        elif isinstance(line.get("invoice_item"), str):
            old["id"] = line["invoice_item"]
        out.append(old)
    lines["data"] = out
    return {**inv, "lines": lines}
