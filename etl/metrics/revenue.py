"""Revenue lines: every invoice line, from Stripe or imported, in one table (spec §1).

Stripe invoices and imported (source='manual') invoices both live in `invoices` +
`invoice_lines`; this module is the one code path that turns them into
`revenue_lines`. Whether a line is *counted* depends on `as_of` (open invoices within
the grace period), so it is decided by the engine, not stored here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, select

from etl.config import Settings
from etl.db.models import DirtyCustomer, Invoice, InvoiceLine, Plan, RevenueLine
from etl.db.upsert import upsert_rows
from etl.logs import get_logger

INVOICES = Invoice.__table__  # type: ignore[attr-defined]
LINES = InvoiceLine.__table__  # type: ignore[attr-defined]
PLANS = Plan.__table__  # type: ignore[attr-defined]
REVENUE = RevenueLine.__table__  # type: ignore[attr-defined]
DIRTY = DirtyCustomer.__table__  # type: ignore[attr-defined]

PAGE = 2_000
log = get_logger(__name__)

# The columns that define a revenue line; a change in any of them makes the customer dirty.
_COMPARED = (
    "customer_id",
    "invoice_id",
    "plan_id",
    "subscription_id",
    "kind",
    "currency",
    "amount",
    "discount_amount",
    "tax_amount",
    "net_amount",
    "quantity",
    "interval",
    "interval_count",
    "period_start",
    "period_end",
    "invoice_status",
    "due_date",
    "paid_at",
)


def classify(
    *,
    source: str,
    line_type: str,
    proration: bool,
    plan_id: str | None,
    plan_type: str | None,
    interval: str | None,
    usage_type: str | None,
) -> str:
    """Kind of a line (spec §1). Imported lines carry line_type 'subscription' when they
    have a plan and 'invoiceitem' otherwise, so both sources go through the same rules."""
    if not plan_id:
        return "one_time"
    known = plan_type is not None
    recurring = plan_type == "recurring" or (plan_type is None and interval is not None)
    if known and not recurring:
        return "one_time"
    if usage_type == "metered":
        return "metered"
    if proration:
        return "proration"
    if line_type == "subscription":
        # An unknown plan (not synced yet) keeps its kind; the engine reports it as unrated.
        return "subscription"
    return "one_time"


def revenue_row(r: Any, now: datetime) -> dict[str, Any] | None:
    """One joined invoice line -> a revenue_lines row (None when it names no customer)."""
    customer_id = r.line_customer_id if r.line_customer_id is not None else r.customer_id
    if customer_id is None:
        return None
    inclusive = r.inclusive_tax_amount or 0
    amount = r.amount - inclusive  # tax excluded, also for tax-inclusive prices
    discount = r.discount_amount or 0
    kind = classify(
        source=r.source,
        line_type=r.line_type,
        proration=bool(r.proration),
        plan_id=r.plan_id,
        plan_type=r.plan_type,
        interval=r.interval,
        usage_type=r.usage_type,
    )
    recurring = kind in ("subscription", "proration", "metered")
    return {
        "customer_id": customer_id,
        "source": r.source,
        "invoice_id": r.invoice_id,
        "line_id": r.line_id,
        "plan_id": r.plan_id,
        "subscription_id": r.line_subscription_id or r.invoice_subscription_id,
        "kind": kind,
        "currency": (r.currency or r.invoice_currency).lower(),
        "amount": amount,
        "discount_amount": discount,
        "tax_amount": r.tax_amount or 0,
        "net_amount": amount - discount,
        "quantity": r.quantity,
        "interval": r.interval if recurring else None,
        "interval_count": (r.interval_count or 1) if recurring and r.interval else None,
        "period_start": r.period_start,
        "period_end": r.period_end,
        "invoice_status": r.status,
        "due_date": r.due_date,
        "paid_at": r.paid_at,
        "updated_at": now,
    }


def _joined(invoice_ids: Sequence[str]) -> Any:
    i, li, p = INVOICES.c, LINES.c, PLANS.c
    return (
        select(
            li.id.label("line_id"),
            li.invoice_id,
            i.source,
            i.customer_id,
            li.customer_id.label("line_customer_id"),
            li.plan_id,
            li.subscription_id.label("line_subscription_id"),
            i.subscription_id.label("invoice_subscription_id"),
            li.line_type,
            li.proration,
            li.currency,
            i.currency.label("invoice_currency"),
            li.amount,
            li.discount_amount,
            li.tax_amount,
            li.inclusive_tax_amount,
            li.quantity,
            li.period_start,
            li.period_end,
            i.status,
            i.due_date,
            i.paid_at,
            p.type.label("plan_type"),
            p.interval,
            p.interval_count,
            p.usage_type,
        )
        .select_from(LINES.join(INVOICES, INVOICES.c.id == LINES.c.invoice_id))
        .outerjoin(PLANS, PLANS.c.id == LINES.c.plan_id)
        .where(LINES.c.invoice_id.in_(list(invoice_ids)))
    )


def _norm(v: Any) -> Any:
    if isinstance(v, datetime) and v.tzinfo is not None:
        return v.astimezone(UTC).replace(tzinfo=None)
    return v


def _refresh_page(conn: Connection, invoice_ids: Sequence[str], now: datetime) -> set[int]:
    affected: set[int] = set()
    new_rows: dict[tuple[str, str], dict[str, Any]] = {}
    for r in conn.execute(_joined(invoice_ids)):
        row = revenue_row(r, now)
        if row is not None:
            new_rows[(row["source"], row["line_id"])] = row
    old: dict[tuple[str, str], dict[str, Any]] = {}
    for r in conn.execute(select(REVENUE).where(REVENUE.c.invoice_id.in_(list(invoice_ids)))):
        m = r._mapping
        old[(m["source"], m["line_id"])] = dict(m)
    changed = []
    for key, row in new_rows.items():
        before = old.get(key)
        if before is None or any(_norm(before[c]) != _norm(row[c]) for c in _COMPARED):
            changed.append(row)
            affected.add(row["customer_id"])
            if before is not None:
                affected.add(before["customer_id"])
    gone = [key for key in old if key not in new_rows]
    for key in gone:
        affected.add(old[key]["customer_id"])
        conn.execute(delete(REVENUE).where(REVENUE.c.source == key[0], REVENUE.c.line_id == key[1]))
    if changed:
        upsert_rows(conn, REVENUE, changed, key=["source", "line_id"])
    return affected


def mark_dirty(conn: Connection, customer_ids: Iterable[int], now: datetime) -> None:
    rows = [{"customer_id": c, "marked_at": now} for c in sorted(set(customer_ids))]
    if rows:
        upsert_rows(conn, DIRTY, rows)


def refresh_revenue_lines(
    conn: Connection, settings: Settings, *, invoice_ids: Iterable[str] | None = None
) -> set[int]:
    """Rebuild revenue_lines for these invoices (all when None); mark changed customers dirty.

    Lines of invoices or invoice lines that no longer exist are deleted. Unchanged lines are
    left alone, so a re-sync of identical data marks nobody dirty. Returns the affected
    customer ids. `settings` is accepted for symmetry with the other entry points: the
    stored line is independent of the settings (tax and grace are applied at compute time).
    """
    del settings
    now = datetime.now(UTC).replace(tzinfo=None)
    affected: set[int] = set()
    if invoice_ids is None:
        ids_iter: Iterable[str] = (
            r[0] for r in conn.execute(select(INVOICES.c.id).order_by(INVOICES.c.id)).all()
        )
        # Lines whose invoice is gone entirely.
        orphan = select(REVENUE.c.customer_id).where(
            REVENUE.c.invoice_id.not_in(select(INVOICES.c.id))
        )
        affected |= {r[0] for r in conn.execute(orphan)}
        conn.execute(delete(REVENUE).where(REVENUE.c.invoice_id.not_in(select(INVOICES.c.id))))
    else:
        ids_iter = sorted(set(invoice_ids))
    page: list[str] = []
    for inv in ids_iter:
        page.append(inv)
        if len(page) >= PAGE:
            affected |= _refresh_page(conn, page, now)
            page = []
    if page:
        affected |= _refresh_page(conn, page, now)
    mark_dirty(conn, affected, now)
    log.debug("revenue_lines_refreshed", customers=len(affected))
    return affected
