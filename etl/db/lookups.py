"""Finding customers the ways users name them: integer id, Stripe id, extra id or email."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from etl.db import tables

CUSTOMERS = tables.customers

# Up to 18 ASCII digits always fit customers.id (a signed 64-bit BIGINT); longer text is
# not an id (and str.isdigit alone accepts digits that int() refuses).
_ID_DIGITS_MAX = 18


def is_customer_id_text(text_ref: str) -> bool:
    """Whether the text can be a customers.id: ASCII digits that fit a BIGINT."""
    return text_ref.isascii() and text_ref.isdigit() and len(text_ref) <= _ID_DIGITS_MAX


def resolve_customer(conn: Connection, ref: str | int) -> Any | None:
    """The customer row a reference names, or None.

    Order: integer id, Stripe id, extra id (the lowest id when several share it, as
    FirstOfficer returns "only one customer"), then email (case-insensitive).
    """
    c = CUSTOMERS.c
    text_ref = str(ref).strip()
    if not text_ref:
        return None
    if is_customer_id_text(text_ref):
        row = conn.execute(select(CUSTOMERS).where(c.id == int(text_ref))).first()
        if row is not None:
            return row
    row = conn.execute(select(CUSTOMERS).where(c.stripe_id == text_ref)).first()
    if row is not None:
        return row
    row = conn.execute(
        select(CUSTOMERS).where(c.extra_id == text_ref).order_by(c.id).limit(1)
    ).first()
    if row is not None:
        return row
    if "@" in text_ref:
        return (
            conn.execute(select(CUSTOMERS).where(c.email_key == text_ref.lower())).first()
            or conn.execute(
                select(CUSTOMERS)
                .where(func.lower(c.email) == text_ref.lower())
                .order_by(c.id)
                .limit(1)
            ).first()
        )
    return None


def resolve_customers(conn: Connection, refs: list[str]) -> dict[str, int]:
    """Set-based resolution of many references (for imports): ref -> customers.id."""
    c = CUSTOMERS.c
    refs = [str(r).strip() for r in refs if str(r).strip()]
    found: dict[str, int] = {}
    ints = {int(r) for r in refs if is_customer_id_text(r)}
    if ints:
        found.update({str(cid): cid for (cid,) in conn.execute(select(c.id).where(c.id.in_(ints)))})
    rest = [r for r in refs if r not in found]
    if rest:
        stripe_ids = conn.execute(select(c.stripe_id, c.id).where(c.stripe_id.in_(rest)))
        found.update(stripe_ids.all())
    rest = [r for r in refs if r not in found]
    if rest:
        rows = conn.execute(
            select(c.extra_id, func.min(c.id)).where(c.extra_id.in_(rest)).group_by(c.extra_id)
        )
        found.update(rows.all())
    rest = [r for r in refs if r not in found and "@" in r]
    if rest:
        by_lower = {r.lower(): r for r in rest}
        rows = conn.execute(select(c.email_key, c.id).where(c.email_key.in_(list(by_lower))))
        found.update({by_lower[key]: cid for key, cid in rows})
    return found
