"""What the tables already hold that the sync asks about before fetching more.

Reads only: which discounts are known (an event naming an unknown one by id means a
re-fetch), which customers are stubs never received, which invoices may still change.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, select

from etl.db import tables


def known_discounts(conn: Connection, ids: Iterable[str]) -> set[str]:
    """Of `ids`, the discounts stored."""
    ids = set(ids)
    if not ids:
        return set()
    return set(conn.scalars(select(tables.discounts.c.id).where(tables.discounts.c.id.in_(ids))))


def unfilled_customer_stubs(conn: Connection) -> list[str]:
    """Stripe customers referenced by other objects but never received themselves."""
    c = tables.customers.c
    return list(
        conn.scalars(
            select(c.stripe_id).where(
                c.source == "stripe",
                c.created.is_(None),
                c.deleted.is_(False),
                c.stripe_id.is_not(None),
            )
        )
    )


def unfinished_invoices(conn: Connection) -> list[str]:
    """Stripe invoices that may still change: drafts and open ones."""
    i = tables.invoices.c
    return list(
        conn.scalars(select(i.id).where(i.source == "stripe", i.status.in_(["draft", "open"])))
    )
