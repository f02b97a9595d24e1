"""Invoices billed outside Stripe (FirstOfficer's "import payments", seed 003).

An imported invoice is stored like a Stripe one: an `invoices` row with
source='manual' and one `invoice_lines` row `<id>:1`, so that revenue lines, MRR and
everything after them follow one code path. Defaults (seed 003 and spec §1):
`date_paid` = now, `date` = `date_paid`, `period_start` = `date`, `period_end` =
`period_start` + one plan interval (= `period_start` without a plan), `quantity` = 1,
`amount` = plan amount × quantity, `discount` = 0, `currency` = the plan's, else the
customer's, else usd. With a plan the invoice is a subscription, without one a one-time
payment. The rules and bounds of the input are in etl.imports.invoice_rules.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, select

from etl.config import Settings
from etl.db import tables
from etl.imports.invoice_fields import InvoiceValidationError, RowError, parse_datetime
from etl.imports.invoice_rules import validate_invoice_input
from etl.load.derive import DeriveHook

INVOICES = tables.invoices

__all__ = [
    "InvoiceValidationError",
    "RowError",
    "create_manual_invoices",
    "delete_manual_invoice",
    "manual_invoice_to_api",
    "parse_datetime",
    "validate_invoice_input",
]


def _store(conn: Connection, rows: list[dict[str, Any]], now: datetime) -> None:
    """Insert the invoices and their one line each, 500 rows per statement."""
    inv_rows = [_invoice_row(r, now) for r in rows]
    line_rows = [_line_row(r, now) for r in rows]
    for start in range(0, len(inv_rows), 500):
        conn.execute(INVOICES.insert(), inv_rows[start : start + 500])
        conn.execute(tables.invoice_lines.insert(), line_rows[start : start + 500])


def _invoice_row(r: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The `invoices` row of a validated input row: paid, in full, when it says."""
    total = r["amount"] - r["discount"]
    return {
        "id": r["id"],
        "source": "manual",
        "customer_id": r["customer"],
        "stripe_customer_id": None,
        "subscription_id": r["subscription_id"],
        "status": "paid",
        "billing_reason": "manual",
        "currency": r["currency"],
        "subtotal": r["amount"],
        "discount": r["discount"],
        "tax": 0,
        "total": total,
        "amount_due": total,
        "amount_paid": total,
        "plan_id": r["plan"],
        "quantity": r["quantity"],
        "description": r["description"],
        "number": None,
        "created": r["date"],
        "due_date": None,
        "paid_at": r["date_paid"],
        "period_start": r["period_start"],
        "period_end": r["period_end"],
        "lines_complete": True,
        "updated_at": now,
    }


def _line_row(r: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Its one `invoice_lines` row: a subscription line with a plan, else an item."""
    return {
        "id": f"{r['id']}:1",
        "invoice_id": r["id"],
        "position": 0,
        "customer_id": r["customer"],
        "subscription_id": r["subscription_id"],
        "subscription_item_id": None,
        "invoice_item_id": None,
        "plan_id": r["plan"],
        "line_type": "subscription" if r["plan"] else "invoiceitem",
        "proration": False,
        "currency": r["currency"],
        "amount": r["amount"],
        "discount_amount": r["discount"],
        "tax_amount": 0,
        "inclusive_tax_amount": 0,
        "quantity": r["quantity"],
        "period_start": r["period_start"],
        "period_end": r["period_end"],
        "description": r["description"],
        "updated_at": now,
    }


def create_manual_invoices(
    conn: Connection,
    settings: Settings,
    rows: list[dict[str, Any]],
    *,
    now: datetime,
    derive: DeriveHook,
) -> list[dict[str, Any]]:
    """Validate (all rows, again: callers may pass raw input) and store; all or nothing.

    Raises InvoiceValidationError listing every bad row; otherwise returns the stored
    invoices as API objects. `derive` (the revenue-line refresh) runs in the same
    transaction and marks the customers dirty, so the next recompute picks them up.
    """
    now = parse_datetime(now)
    valid, errors = validate_invoice_input(conn, settings, rows, now=now)
    if errors:
        raise InvoiceValidationError(errors)
    _store(conn, valid, now)
    derive(conn, settings, invoice_ids=[r["id"] for r in valid])
    return [manual_invoice_to_api(_stored_shape(r)) for r in valid]


def _stored_shape(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": r["id"],
        "subscription_id": r["subscription_id"],
        "customer_id": r["customer"],
        "subtotal": r["amount"],
        "discount": r["discount"],
        "amount_paid": r["amount"] - r["discount"],
        "currency": r["currency"],
        "plan_id": r["plan"],
        "paid_at": r["date_paid"],
        "created": r["date"],
        "quantity": r["quantity"],
        "period_start": r["period_start"],
        "period_end": r["period_end"],
        "description": r["description"],
    }


def delete_manual_invoice(
    conn: Connection, settings: Settings, invoice_id: str, *, derive: DeriveHook
) -> bool:
    """Delete an imported invoice and its lines; False if there is no such imported invoice."""
    found = conn.execute(
        select(INVOICES.c.id).where(INVOICES.c.id == invoice_id, INVOICES.c.source == "manual")
    ).first()
    if found is None:
        return False
    conn.execute(
        delete(tables.invoice_lines).where(tables.invoice_lines.c.invoice_id == invoice_id)
    )
    conn.execute(delete(INVOICES).where(INVOICES.c.id == invoice_id))
    derive(conn, settings, invoice_ids=[invoice_id])
    return True


def _iso(v: datetime | None) -> str | None:
    if v is None:
        return None
    if v.tzinfo is None:
        v = v.replace(tzinfo=UTC)
    return v.astimezone(UTC).isoformat(timespec="seconds")


def manual_invoice_to_api(row: Any) -> dict[str, Any]:
    """An `invoices` row (mapping or Row; source='manual') -> seed 003's invoice object.

    `customer` is the customer's Stripe id when the row carries `customer_stripe_id`
    (join it in), else the integer FirstOfficer id as a string.
    """
    # Row._mapping is SQLAlchemy's public mapping view (the underscore avoids column names).
    m = row if isinstance(row, dict) else dict(row._mapping)  # noqa: SLF001
    customer = m.get("customer_stripe_id") or (
        str(m["customer_id"]) if m.get("customer_id") is not None else None
    )
    amount = int(m.get("subtotal") or 0)
    discount = int(m.get("discount") or 0)
    return {
        "id": m["id"],
        "subscription_id": m.get("subscription_id"),
        "object": "invoice",
        "amount_paid": int(m["amount_paid"])
        if m.get("amount_paid") is not None
        else amount - discount,
        "discount": discount,
        "amount": amount,
        "currency": m.get("currency"),
        "customer": customer,
        "plan": m.get("plan_id"),
        "date_paid": _iso(m.get("paid_at")),
        "date": _iso(m.get("created")),
        "quantity": m.get("quantity"),
        "period_start": _iso(m.get("period_start")),
        "period_end": _iso(m.get("period_end")),
        "description": m.get("description") or "",
    }
