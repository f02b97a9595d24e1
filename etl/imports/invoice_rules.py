"""The one validator of an imported invoice, for `POST /v2/invoices` and `etl import-invoices`.

Both take the same fields (those of the API's invoice object) and store the same rows,
so they check them with the same rules and bounds; `etl.api.schemas.InvoiceCreate`
only documents the body. Each rule below checks one field (or one pair of fields),
applies its default (etl.imports.invoices lists them) and records every problem, so
a file's report names all of them at once. The references (customers, plans, ids
imported before) are read for the whole file in four set-based queries.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from etl.config import Settings
from etl.currency import iso_currency
from etl.db import tables
from etl.db.lookups import resolve_customers
from etl.imports.invoice_fields import (
    FIELDS,
    ID_RE,
    MAX_AMOUNT,
    MAX_QUANTITY,
    InvoiceValidationError,
    RowCheck,
    RowError,
    check_fields,
    check_text,
    datetime_field,
    integer,
    is_blank,
    parse_datetime,
)
from etl.periods import INTERVALS, add_interval

__all__ = ["InvoiceValidationError", "References", "RowError", "validate_invoice_input"]


@dataclass
class References:
    """What the rows refer to, read once for all of them."""

    customers: dict[str, int] = field(default_factory=dict)  # reference -> customers.id
    customer_currency: dict[int, str | None] = field(default_factory=dict)
    plans: dict[str, Any] = field(default_factory=dict)  # plan id -> plans row
    imported_ids: set[str] = field(default_factory=set)  # given ids already stored
    # A file import may repeat stored ids: etl.imports.repeats compares them instead.
    repeats_allowed: bool = False


def check_id(row: RowCheck, refs: References, seen: dict[str, int]) -> str | None:
    """A given id: its shape, and new to both the database and the file."""
    inv_id = row.text("id")
    if inv_id is None:
        return None
    if not ID_RE.match(inv_id):
        row.fail("id", "may hold only letters, digits and _ - . : (at most 200)")
        return None
    if inv_id in refs.imported_ids and not refs.repeats_allowed:
        row.fail("id", f"invoice {inv_id} was imported before (duplicate)", conflict=True)
    elif inv_id in seen:
        row.fail("id", f"invoice {inv_id} appears twice in the file (first on line {seen[inv_id]})")
    else:
        seen[inv_id] = row.line
    return inv_id


def check_customer(row: RowCheck, refs: References) -> int | None:
    ref = row.text("customer")
    if ref is None:
        row.fail("customer", "is required")
        return None
    customer_id = refs.customers.get(ref)
    if customer_id is None:
        row.fail("customer", f"no customer {ref!r} (id, Stripe id, extra id or email)")
    return customer_id


def check_plan(row: RowCheck, refs: References) -> Any:
    """The plans row of a given plan, which must exist and be recurring."""
    plan_id = row.text("plan")
    if plan_id is None:
        return None
    plan = refs.plans.get(plan_id)
    if plan is None:
        row.fail("plan", f"no plan {plan_id!r}")
    elif plan.interval not in INTERVALS:
        row.fail("plan", f"plan {plan_id!r} is not recurring (no interval)")
        return None
    return plan


def check_amounts(row: RowCheck, plan: Any) -> tuple[int | None, int | None, int | None]:
    """(amount, discount, quantity): amount defaults to plan amount × quantity."""
    f = row.fields
    quantity = (
        1 if f["quantity"] is None else integer(row, "quantity", minimum=1, maximum=MAX_QUANTITY)
    )
    discount = (
        0 if f["discount"] is None else integer(row, "discount", minimum=0, maximum=MAX_AMOUNT)
    )
    amount: int | None = None
    if f["amount"] is not None:
        amount = integer(row, "amount", minimum=0, maximum=MAX_AMOUNT)
    elif f["plan"] is None:
        row.fail("amount", "is required when no plan is given")
    elif plan is not None and quantity is not None:
        if plan.amount is None:
            row.fail("amount", f"is required: plan {plan.id!r} has no fixed amount")
        else:
            amount = plan.amount * quantity
    if amount is not None and discount is not None and discount > amount:
        row.fail("discount", f"{discount} exceeds the amount {amount}")
    return amount, discount, quantity


def check_currency(
    row: RowCheck, plan: Any, customer_id: int | None, refs: References
) -> str | None:
    """A given ISO code, else the plan's, else the customer's, else usd."""
    if row.fields["currency"] is not None:
        try:
            return iso_currency(row.fields["currency"])
        except ValueError as exc:
            row.fail("currency", str(exc))
            return None
    if plan is not None:
        return str(plan.currency)
    if customer_id is not None and refs.customer_currency.get(customer_id):
        return refs.customer_currency[customer_id]
    return "usd"


def check_dates(row: RowCheck, plan: Any, now: datetime) -> dict[str, datetime | None]:
    """date_paid (default now), date (date_paid), period_start (date) and period_end
    (period_start + one plan interval; period_start for a one-time payment)."""
    f = row.fields
    paid = now if f["date_paid"] is None else datetime_field(row, "date_paid")
    created = paid if f["date"] is None else datetime_field(row, "date")
    start = created if f["period_start"] is None else datetime_field(row, "period_start")
    end: datetime | None = None
    if f["period_end"] is not None:
        end = datetime_field(row, "period_end")
    elif start is not None:
        if plan is not None:
            end = add_interval(start, plan.interval, plan.interval_count or 1)
        elif f["plan"] is None:
            end = start
    if start is not None and end is not None:
        if end < start:
            row.fail("period_end", "is before period_start")
        elif plan is not None and end == start:
            row.fail("period_end", "must be after period_start for a subscription")
    return {"date_paid": paid, "date": created, "period_start": start, "period_end": end}


# ---------------------------------------------------------------- rows


def check_row(
    row: RowCheck, refs: References, seen: dict[str, int], now: datetime
) -> dict[str, Any] | None:
    """The normalized row, ready for storage, or None when a rule failed."""
    inv_id = check_id(row, refs, seen)
    customer_id = check_customer(row, refs)
    plan = check_plan(row, refs)
    amount, discount, quantity = check_amounts(row, plan)
    currency = check_currency(row, plan, customer_id, refs)
    dates = check_dates(row, plan, now)
    if row.errors:
        return None
    final_id = inv_id or f"man_{uuid.uuid4().hex[:20]}"
    sub_id = row.text("subscription_id")
    if sub_id is None and plan is not None:
        sub_id = f"sub_man_{customer_id}_{final_id}"
    description = row.fields["description"]
    return {
        "id": final_id,
        "customer": customer_id,
        "plan": plan.id if plan is not None else None,
        "amount": amount,
        "discount": discount,
        "quantity": quantity,
        "currency": currency,
        **dates,
        "subscription_id": sub_id,
        "description": None if description is None else str(description),
    }


def load_references(conn: Connection, checks: list[RowCheck]) -> References:
    """Customers, their currencies, plans and already imported ids of all rows at once."""
    refs = References()
    wanted = {
        name: sorted({t for c in checks if (t := c.text(name))})
        for name in ("customer", "plan", "id")
    }
    if wanted["customer"]:
        refs.customers = resolve_customers(conn, wanted["customer"])
    if refs.customers:
        c = tables.customers.c
        ids = sorted(set(refs.customers.values()))
        rows = conn.execute(select(c.id, c.currency).where(c.id.in_(ids)))
        refs.customer_currency = dict(rows.all())
    if wanted["plan"]:
        plans = conn.execute(select(tables.plans).where(tables.plans.c.id.in_(wanted["plan"])))
        refs.plans = {p.id: p for p in plans}
    if wanted["id"]:
        i = tables.invoices.c
        refs.imported_ids = set(conn.scalars(select(i.id).where(i.id.in_(wanted["id"]))))
    return refs


def validate_invoice_input(
    conn: Connection,
    settings: Settings,
    rows: list[dict[str, Any]],
    *,
    now: datetime,
    lines: list[int] | None = None,
    repeats_allowed: bool = False,
) -> tuple[list[dict[str, Any]], list[RowError]]:
    """Validate every row (nothing stops at the first bad row) and apply the defaults.

    `lines[i]` is the line number reported for rows[i] (default i + 1). Returns the
    normalized rows, ready for `create_manual_invoices`, and every error found. A row
    whose text is unfit to store (see check_text) is not looked up any further.
    `repeats_allowed`: an id stored before is no error here (a file import then compares
    the row with the stored invoice, etl.imports.repeats).
    """
    del settings  # the rules need none yet; callers pass it so that they may
    now = parse_datetime(now)
    line_no = lines if lines is not None else list(range(1, len(rows) + 1))
    checks: list[RowCheck | RowError] = []
    for raw, line in zip(rows, line_no, strict=True):
        if not isinstance(raw, dict):
            checks.append(RowError(line, "row", "must be an object with the invoice's fields"))
            continue
        row = RowCheck(line, {k: (None if is_blank(raw.get(k)) else raw.get(k)) for k in FIELDS})
        check_fields(raw, row)
        row.unfit = not check_text(row)
        checks.append(row)
    refs = load_references(conn, [c for c in checks if isinstance(c, RowCheck) and not c.unfit])
    refs.repeats_allowed = repeats_allowed
    valid: list[dict[str, Any]] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for check in checks:
        if isinstance(check, RowError):
            errors.append(check)
            continue
        normalized = None if check.unfit else check_row(check, refs, seen, now)
        errors.extend(check.errors)
        if normalized is not None:
            valid.append(normalized)
    return valid, errors
