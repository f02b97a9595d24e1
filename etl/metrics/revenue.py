"""Revenue lines: every invoice line, from Stripe or imported, in one table (spec §1).

Stripe invoices and imported (source='manual') invoices both live in `invoices` +
`invoice_lines`; this module is the one code path that turns them into
`revenue_lines`. Whether a line is *counted* depends on `as_of` (open invoices within
the grace period), so it is decided by the engine, not stored here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    and_,
    case,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    true,
)

from etl.clock import utcnow
from etl.config import Settings
from etl.db import tables
from etl.db.upsert import dialect_insert, upsert_rows
from etl.logs import get_logger

INVOICES = tables.invoices

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


def _line_kind() -> Any:
    """The kind of a line (spec §1): no plan, or a plan known not to be recurring, is
    one_time; then metered, proration, subscription (a line of the subscription itself;
    an unknown plan keeps its kind and the engine reports it as unrated); anything else
    is one_time. Imported lines carry line_type 'subscription' when they have a plan
    and 'invoiceitem' otherwise, so both sources go through the same rules."""
    li, p = tables.invoice_lines.c, tables.plans.c
    return case(
        (or_(li.plan_id.is_(None), li.plan_id == ""), "one_time"),
        (and_(p.type.is_not(None), p.type != "recurring"), "one_time"),
        (p.usage_type == "metered", "metered"),
        (li.proration == true(), "proration"),
        (li.line_type == "subscription", "subscription"),
        else_="one_time",
    )


def _new_rows(now: datetime, scope: Any | None) -> Any:
    """The revenue lines the invoice lines make now, as one SELECT that the set-based
    refresh compares with the stored rows. Tax-inclusive prices: the inclusive tax is not
    revenue."""
    i, li, p = INVOICES.c, tables.invoice_lines.c, tables.plans.c
    kind = _line_kind()
    recurring = kind.in_(["subscription", "proration", "metered"])
    amount = li.amount - func.coalesce(li.inclusive_tax_amount, 0)
    discount = func.coalesce(li.discount_amount, 0)
    customer = func.coalesce(li.customer_id, i.customer_id)
    q = (
        select(
            customer.label("customer_id"),
            i.source.label("source"),
            li.invoice_id.label("invoice_id"),
            li.id.label("line_id"),
            li.plan_id.label("plan_id"),
            func.coalesce(func.nullif(li.subscription_id, ""), i.subscription_id).label(
                "subscription_id"
            ),
            kind.label("kind"),
            func.lower(func.coalesce(func.nullif(li.currency, ""), i.currency)).label("currency"),
            amount.label("amount"),
            discount.label("discount_amount"),
            func.coalesce(li.tax_amount, 0).label("tax_amount"),
            (amount - discount).label("net_amount"),
            li.quantity.label("quantity"),
            case((recurring, p.interval), else_=None).label("interval"),
            case(
                (
                    and_(recurring, p.interval.is_not(None)),
                    func.coalesce(func.nullif(p.interval_count, 0), 1),
                ),
                else_=None,
            ).label("interval_count"),
            li.period_start.label("period_start"),
            li.period_end.label("period_end"),
            i.status.label("invoice_status"),
            # Spec section 1: an automatically charged invoice (no due_date) falls due
            # when it is finalized.
            func.coalesce(i.due_date, i.finalized_at).label("due_date"),
            i.paid_at.label("paid_at"),
            literal(now, tables.revenue_lines.c.updated_at.type).label("updated_at"),
        )
        .select_from(
            tables.invoice_lines.join(INVOICES, INVOICES.c.id == tables.invoice_lines.c.invoice_id)
        )
        .outerjoin(tables.plans, tables.plans.c.id == tables.invoice_lines.c.plan_id)
        .where(customer.is_not(None))
    )
    if scope is not None:
        q = q.where(tables.invoice_lines.c.invoice_id.in_(scope))
    return q


_COLUMNS = [
    "customer_id", "source", "invoice_id", "line_id", "plan_id", "subscription_id", "kind",
    "currency", "amount", "discount_amount", "tax_amount", "net_amount", "quantity",
    "interval", "interval_count", "period_start", "period_end", "invoice_status",
    "due_date", "paid_at", "updated_at",
]  # fmt: skip


# A revenue line is its invoice line: (invoice, line id) within a source.
_KEY = ("source", "invoice_id", "line_id")


def _refresh(conn: Connection, now: datetime, scope: Sequence[str] | None) -> set[int]:
    """Bring revenue_lines in line with the invoice lines of `scope` (None: all) in three
    set-based statements; returns the customers whose lines changed, appeared or went."""
    new = _new_rows(now, scope).subquery("n")
    old = tables.revenue_lines.alias("o")
    same_key = and_(
        old.c.source == new.c.source,
        old.c.invoice_id == new.c.invoice_id,
        old.c.line_id == new.c.line_id,
    )
    differs = or_(*[old.c[c].is_distinct_from(new.c[c]) for c in _COMPARED])
    changed = (
        select(new.c.customer_id, old.c.customer_id)
        .select_from(new.outerjoin(old, same_key))
        .where(or_(old.c.id.is_(None), differs))
    )
    affected: set[int] = set()
    for a, b in conn.execute(changed):
        affected.add(a)
        if b is not None:
            affected.add(b)
    # Stored lines of the scope that the invoice lines no longer make.
    in_scope = tables.revenue_lines.c.invoice_id.in_(scope) if scope is not None else true()
    fresh = _new_rows(now, scope).subquery("f")
    gone = in_scope & ~exists().where(
        fresh.c.source == tables.revenue_lines.c.source,
        fresh.c.invoice_id == tables.revenue_lines.c.invoice_id,
        fresh.c.line_id == tables.revenue_lines.c.line_id,
    )
    affected |= {r[0] for r in conn.execute(select(tables.revenue_lines.c.customer_id).where(gone))}
    conn.execute(delete(tables.revenue_lines).where(gone))
    if affected:
        src = _new_rows(now, scope).subquery("s")
        ins = dialect_insert(conn, tables.revenue_lines).from_select(
            _COLUMNS, select(*[src.c[c] for c in _COLUMNS]).where(true())
        )
        excluded = ins.excluded
        conn.execute(
            ins.on_conflict_do_update(
                index_elements=_KEY,
                set_={c: excluded[c] for c in _COLUMNS if c not in _KEY},
                where=or_(
                    *[tables.revenue_lines.c[c].is_distinct_from(excluded[c]) for c in _COMPARED]
                ),
            )
        )
    return affected


def mark_dirty(conn: Connection, customer_ids: Iterable[int], now: datetime) -> None:
    rows = [{"customer_id": c, "marked_at": now} for c in sorted(set(customer_ids))]
    if rows:
        upsert_rows(conn, tables.dirty_customers, rows)


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
    now = utcnow()
    affected: set[int] = set()
    if invoice_ids is None:
        affected = _refresh(conn, now, None)
    else:
        ids = sorted(set(invoice_ids))
        for k in range(0, len(ids), PAGE):
            affected |= _refresh(conn, now, ids[k : k + PAGE])
    mark_dirty(conn, affected, now)
    log.debug("revenue_lines_refreshed", customers=len(affected))
    return affected
