"""Invoices billed outside Stripe (FirstOfficer's "import payments", seed 003).

An imported invoice is stored like a Stripe one: an `invoices` row with
source='manual' and one `invoice_lines` row `<id>:1`, so that revenue lines, MRR and
everything after them follow one code path. Defaults (seed 003 and spec §1):
`date_paid` = now, `date` = `date_paid`, `period_start` = `date`, `period_end` =
`period_start` + one plan interval (= `period_start` without a plan), `quantity` = 1,
`amount` = plan amount × quantity, `discount` = 0, `currency` = the plan's, else the
customer's, else usd. With a plan the invoice is a subscription, without one a one-time
payment.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, delete, select

from etl.config import Settings
from etl.db import tables
from etl.db.lookups import resolve_customers
from etl.errors import EtlError
from etl.load.derive import DeriveHook
from etl.periods import INTERVALS, add_interval

INVOICES = tables.invoices

FIELDS = (
    "id",
    "customer",
    "plan",
    "amount",
    "discount",
    "quantity",
    "currency",
    "date_paid",
    "date",
    "period_start",
    "period_end",
    "subscription_id",
    "description",
)
# Output-only fields of the invoice object, accepted (and ignored) so exported files re-import.
IGNORED = ("object", "amount_paid")
MAX_INT = 2**62
_ID_RE = re.compile(r"^[A-Za-z0-9_\-.:]{1,200}$")


@dataclass(frozen=True)
class RowError:
    line: int
    param: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.param}: {self.message}"


class InvoiceValidationError(EtlError):
    """Some rows are invalid; nothing was imported. `.errors` lists every problem."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        first = "; ".join(str(e) for e in errors[:3])
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        super().__init__(f"{len(errors)} invalid invoice row(s), nothing imported: {first}{more}")


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and v.strip() == "")


def _int(v: Any, param: str, errs: list[tuple[str, str]], *, minimum: int) -> int | None:
    if isinstance(v, bool):
        errs.append((param, "must be an integer"))
        return None
    if isinstance(v, int):
        n = v
    elif (isinstance(v, float) and v.is_integer()) or (
        isinstance(v, str) and re.fullmatch(r"\s*[-+]?\d+\s*", v)
    ):
        n = int(v)
    else:
        errs.append((param, f"must be an integer in the smallest currency unit, got {v!r}"))
        return None
    if n < minimum or n > MAX_INT:
        errs.append((param, f"must be ≥ {minimum}, got {n}"))
        return None
    return n


def parse_datetime(v: Any) -> datetime:
    """ISO 8601 date or datetime -> naive UTC. Naive input is taken as UTC."""
    if isinstance(v, datetime):
        dt = v
    elif isinstance(v, date):
        dt = datetime(v.year, v.month, v.day)
    elif isinstance(v, int | float) and not isinstance(v, bool):
        dt = datetime.fromtimestamp(v, UTC)
    else:
        s = str(v).strip()
        if s.endswith(("Z", "z")):
            s = s[:-1] + "+00:00"
        dt = datetime.fromisoformat(s)
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt


def _dt(v: Any, param: str, errs: list[tuple[str, str]]) -> datetime | None:
    try:
        dt = parse_datetime(v)
        if not 1990 <= dt.year <= 2099:
            errs.append((param, f"{dt.date().isoformat()} is outside the years 1990–2099"))
            return None
        return dt
    except (ValueError, TypeError, OverflowError, OSError):
        errs.append(
            (param, f"must be an ISO 8601 datetime such as 2016-05-05T10:26:26+00:00, got {v!r}")
        )
        return None


def validate_invoice_input(
    conn: Connection,
    settings: Settings,
    rows: list[dict[str, Any]],
    *,
    now: datetime,
    lines: list[int] | None = None,
) -> tuple[list[dict[str, Any]], list[RowError]]:
    """Validate every row (nothing stops at the first error) and apply the defaults.

    `lines[i]` is the line number reported for rows[i] (default i + 1). Returns the
    normalized rows, ready for `create_manual_invoices`, and every error found.
    """
    del settings
    now = parse_datetime(now)
    line_no = lines if lines is not None else list(range(1, len(rows) + 1))
    refs = [
        str(r.get("customer")).strip()
        for r in rows
        if isinstance(r, dict) and not _blank(r.get("customer"))
    ]
    customers = resolve_customers(conn, refs) if refs else {}
    cust_currency: dict[int, str | None] = {}
    if customers:
        ids = sorted(set(customers.values()))
        for cid, cur in conn.execute(
            select(tables.customers.c.id, tables.customers.c.currency).where(
                tables.customers.c.id.in_(ids)
            )
        ):
            cust_currency[cid] = cur
    plan_ids = sorted(
        {
            str(r.get("plan")).strip()
            for r in rows
            if isinstance(r, dict) and not _blank(r.get("plan"))
        }
    )
    plans: dict[str, Any] = {}
    if plan_ids:
        for p in conn.execute(select(tables.plans).where(tables.plans.c.id.in_(plan_ids))):
            plans[p.id] = p
    given_ids = sorted(
        {str(r.get("id")).strip() for r in rows if isinstance(r, dict) and not _blank(r.get("id"))}
    )
    existing: set[str] = set()
    if given_ids:
        existing = {
            r[0] for r in conn.execute(select(INVOICES.c.id).where(INVOICES.c.id.in_(given_ids)))
        }

    out: list[dict[str, Any]] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for idx, raw in enumerate(rows):
        ln = line_no[idx]
        errs: list[tuple[str, str]] = []
        if not isinstance(raw, dict):
            errors.append(RowError(ln, "row", "must be an object with the invoice's fields"))
            continue
        unknown = sorted(str(k) for k in raw if k not in FIELDS and k not in IGNORED)
        for k in unknown:
            # "__extra__": set by the CSV reader for a row with more values than columns
            errs.append(("row", str(raw[k])) if k == "__extra__" else (k, "unknown field"))
        r = {k: (None if _blank(raw.get(k)) else raw.get(k)) for k in FIELDS}

        inv_id: str | None = None
        if r["id"] is not None:
            inv_id = str(r["id"]).strip()
            if not _ID_RE.match(inv_id):
                errs.append(("id", "may hold only letters, digits and _ - . : (at most 200)"))
                inv_id = None
            elif inv_id in existing:
                errs.append(("id", f"invoice {inv_id} was imported before (duplicate)"))
            elif inv_id in seen:
                errs.append(
                    (
                        "id",
                        f"invoice {inv_id} appears twice in the file (first on line {seen[inv_id]})",
                    )
                )
            else:
                seen[inv_id] = ln

        customer_id: int | None = None
        if r["customer"] is None:
            errs.append(("customer", "is required"))
        else:
            ref = str(r["customer"]).strip()
            customer_id = customers.get(ref)
            if customer_id is None:
                errs.append(("customer", f"no customer {ref!r} (id, Stripe id, extra id or email)"))

        plan = None
        if r["plan"] is not None:
            plan_id = str(r["plan"]).strip()
            plan = plans.get(plan_id)
            if plan is None:
                errs.append(("plan", f"no plan {plan_id!r}"))
            elif plan.interval not in INTERVALS:
                errs.append(("plan", f"plan {plan_id!r} is not recurring (no interval)"))
                plan = None

        quantity = 1 if r["quantity"] is None else _int(r["quantity"], "quantity", errs, minimum=1)
        discount = 0 if r["discount"] is None else _int(r["discount"], "discount", errs, minimum=0)
        amount: int | None = None
        if r["amount"] is not None:
            amount = _int(r["amount"], "amount", errs, minimum=0)
        elif r["plan"] is None:
            errs.append(("amount", "is required when no plan is given"))
        elif plan is not None and quantity is not None:
            if plan.amount is None:
                errs.append(("amount", f"is required: plan {plan.id!r} has no fixed amount"))
            else:
                amount = plan.amount * quantity
        if amount is not None and discount is not None and discount > amount:
            errs.append(("discount", f"{discount} exceeds the amount {amount}"))

        currency: str | None = None
        if r["currency"] is not None:
            currency = str(r["currency"]).strip().lower()
            if not re.fullmatch(r"[a-z]{3}", currency):
                errs.append(("currency", f"{r['currency']!r} is not a 3-letter ISO currency code"))
        elif plan is not None:
            currency = plan.currency
        elif customer_id is not None and cust_currency.get(customer_id):
            currency = cust_currency[customer_id]
        else:
            currency = "usd"

        date_paid = now if r["date_paid"] is None else _dt(r["date_paid"], "date_paid", errs)
        inv_date = date_paid if r["date"] is None else _dt(r["date"], "date", errs)
        period_start = (
            inv_date if r["period_start"] is None else _dt(r["period_start"], "period_start", errs)
        )
        period_end: datetime | None = None
        if r["period_end"] is not None:
            period_end = _dt(r["period_end"], "period_end", errs)
        elif period_start is not None:
            if plan is not None:
                period_end = add_interval(period_start, plan.interval, plan.interval_count or 1)
            elif r["plan"] is None:
                period_end = period_start
        if period_start is not None and period_end is not None:
            if period_end < period_start:
                errs.append(("period_end", "is before period_start"))
            elif plan is not None and period_end == period_start:
                errs.append(("period_end", "must be after period_start for a subscription"))

        if errs:
            errors.extend(RowError(ln, p, m) for p, m in errs)
            continue
        assert customer_id is not None and amount is not None and discount is not None
        final_id = inv_id or f"man_{uuid.uuid4().hex[:20]}"
        sub_id = r["subscription_id"]
        if sub_id is None and plan is not None:
            sub_id = f"sub_man_{customer_id}_{final_id}"
        out.append(
            {
                "id": final_id,
                "customer": customer_id,
                "plan": plan.id if plan is not None else None,
                "amount": amount,
                "discount": discount,
                "quantity": quantity,
                "currency": currency,
                "date_paid": date_paid,
                "date": inv_date,
                "period_start": period_start,
                "period_end": period_end,
                "subscription_id": None if sub_id is None else str(sub_id).strip(),
                "description": None if r["description"] is None else str(r["description"]),
            }
        )
    return out, errors


def _store(conn: Connection, rows: list[dict[str, Any]], now: datetime) -> None:
    inv_rows = []
    line_rows = []
    for r in rows:
        total = r["amount"] - r["discount"]
        inv_rows.append(
            {
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
        )
        line_rows.append(
            {
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
        )
    for start in range(0, len(inv_rows), 500):
        conn.execute(INVOICES.insert(), inv_rows[start : start + 500])
        conn.execute(tables.invoice_lines.insert(), line_rows[start : start + 500])


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
    m = row if isinstance(row, dict) else dict(row._mapping)
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
