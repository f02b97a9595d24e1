"""Invoice lines → `invoice_lines` rows, in both API shapes.

Since 2025-03-31 a line says what it bills under `parent.*_details` and its price under
`pricing`; before, at its top level (`type`, `proration`, `subscription`, `price`/`plan`).
Event payloads keep the version an invoice was created under, so both parse. Payloads of
versions before 2019-12-03 give line ids that several invoices share (the line's own id
is then `unique_id`): rows are keyed by (invoice, line id).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from etl.normalize.fields import (
    Malformed,
    Row,
    as_mapping,
    integer,
    ref_id,
    required,
    sum_amounts,
    ts,
)

# What a line bills: (line_type, proration, subscription, subscription item, invoice item, plan).
LineRefs = tuple[str, bool, str | None, str | None, str | None, str | None]


def invoice_lines(obj: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(as_mapping(obj.get("lines")).get("data") or [])


def lines_incomplete(obj: Mapping[str, Any]) -> bool:
    """The embedded first page of lines is not all of them."""
    return bool(as_mapping(obj.get("lines")).get("has_more"))


def _line_parent(line: Mapping[str, Any]) -> tuple[str | None, Mapping[str, Any]]:
    parent = as_mapping(line.get("parent"))
    ptype = parent.get("type")
    if ptype:
        return str(ptype), as_mapping(parent.get(ptype))
    return None, {}


def _current_refs(line: Mapping[str, Any], ptype: str, details: Mapping[str, Any]) -> LineRefs:
    line_type = "subscription" if ptype == "subscription_item_details" else "invoiceitem"
    pricing = as_mapping(line.get("pricing"))
    plan_id = ref_id(as_mapping(pricing.get("price_details")).get("price"))
    if plan_id is None:
        plan_id = ref_id(line.get("price")) or ref_id(line.get("plan"))
    return (
        line_type,
        bool(details.get("proration")),
        ref_id(details.get("subscription")),
        ref_id(details.get("subscription_item")),
        ref_id(details.get("invoice_item")),
        plan_id,
    )


def _legacy_refs(line: Mapping[str, Any], lid: str) -> LineRefs:
    """The shape before 2025-03-31."""
    line_type = line.get("type") or "invoiceitem"
    if line_type == "line_item":
        line_type = "invoiceitem"
    invoice_item_id = ref_id(line.get("invoice_item"))
    if invoice_item_id is None and line_type == "invoiceitem" and lid.startswith("ii_"):
        invoice_item_id = lid
    return (
        line_type,
        bool(line.get("proration")),
        ref_id(line.get("subscription")),
        ref_id(line.get("subscription_item")),
        invoice_item_id,
        ref_id(line.get("price")) or ref_id(line.get("plan")),
    )


def _line_taxes(line: Mapping[str, Any]) -> tuple[int, int]:
    """(tax, of which inclusive): `taxes` (current) or `tax_amounts` (legacy)."""
    if line.get("taxes") is not None:
        taxes = line.get("taxes") or []
        inclusive = [t for t in taxes if t.get("tax_behavior") == "inclusive"]
    else:
        taxes = line.get("tax_amounts") or []
        inclusive = [t for t in taxes if t.get("inclusive")]
    return sum_amounts(taxes), sum_amounts(inclusive)


def normalize_line(
    line: Mapping[str, Any], *, invoice_id: str, position: int, currency: str | None = None
) -> Row:
    # Before 2019-12-03 `id` could be shared by several invoices (`sli_…`, `ii_…`);
    # `unique_id` is the line's id of later versions, so one line keeps one id.
    lid = line.get("unique_id") or required(line, "id")
    ptype, details = _line_parent(line)
    refs = _current_refs(line, ptype, details) if ptype is not None else _legacy_refs(line, lid)
    line_type, proration, subscription_id, subscription_item_id, invoice_item_id, plan_id = refs
    tax, inclusive = _line_taxes(line)
    period = as_mapping(line.get("period"))
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
        "amount": integer(amount),
        "discount_amount": sum_amounts(line.get("discount_amounts")),
        "tax_amount": tax,
        "inclusive_tax_amount": inclusive,
        "quantity": integer(line.get("quantity"), None),
        "period_start": ts(period.get("start")),
        "period_end": ts(period.get("end")),
        "description": line.get("description"),
    }
