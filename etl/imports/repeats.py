"""Invoice files a user can import again: a row whose id was imported before with the
same content is skipped and reported, one whose content differs is an error naming it.

So re-running `etl import-invoices` on the same file, or on the file with rows appended,
imports only the new rows. Dates the row leaves blank default to "now" (etl.imports.
invoices), which differs at every run: they are defaults, not content, and are not
compared. A row without an id gets a new id at every import and cannot be recognised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from etl.db import tables
from etl.imports.invoice_fields import RowError, is_blank

# Normalized row field -> the `invoices` column it is stored in.
COMPARED = {
    "customer": "customer_id",
    "plan": "plan_id",
    "amount": "subtotal",
    "discount": "discount",
    "quantity": "quantity",
    "currency": "currency",
    "subscription_id": "subscription_id",
    "description": "description",
    "date_paid": "paid_at",
    "date": "created",
    "period_start": "period_start",
    "period_end": "period_end",
}
# Each date field with the fields its default is derived from: blank all along the chain
# means a default from "now".
DATE_SOURCES = {
    "date_paid": ("date_paid",),
    "date": ("date", "date_paid"),
    "period_start": ("period_start", "date", "date_paid"),
    "period_end": ("period_end", "period_start", "date", "date_paid"),
}
_CHUNK = 5000  # ids per IN (…) query, well under SQLite's and PostgreSQL's limits


@dataclass
class Repeats:
    """The rows to store, the ids imported before with the same content, and the errors."""

    new: list[dict[str, Any]] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


def split_repeats(
    conn: Connection,
    valid: list[dict[str, Any]],
    raw_rows: list[dict[str, Any]],
    lines: list[int],
) -> Repeats:
    """Compare every valid row whose id is stored already with its stored invoice."""
    raw_by_id = {
        str(raw["id"]).strip(): (line, raw)
        for raw, line in zip(raw_rows, lines, strict=True)
        if isinstance(raw, dict) and not is_blank(raw.get("id"))
    }
    ids = [r["id"] for r in valid if r["id"] in raw_by_id]
    inv = tables.invoices
    stored: dict[str, Any] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        stored.update((row.id, row) for row in conn.execute(select(inv).where(inv.c.id.in_(chunk))))
    out = Repeats()
    for row in valid:
        before = stored.get(row["id"])
        if before is None:
            out.new.append(row)
            continue
        line, raw = raw_by_id[row["id"]]
        if before.source != "manual":
            out.errors.append(
                RowError(line, "id", f"invoice {row['id']} exists and came from Stripe", True)
            )
            continue
        changed = _differences(row, raw, before)
        if changed:
            out.errors.append(
                RowError(
                    line,
                    "id",
                    f"invoice {row['id']} was imported before with other content "
                    f"({'; '.join(changed)}): delete it first or give the row a new id",
                    True,
                )
            )
        else:
            out.unchanged.append(row["id"])
    return out


def _differences(row: dict[str, Any], raw: dict[str, Any], before: Any) -> list[str]:
    """'amount: 1000 stored, 1200 in the file' for every compared field that differs."""
    changed = []
    for name, column in COMPARED.items():
        sources = DATE_SOURCES.get(name)
        if sources and all(is_blank(raw.get(s)) for s in sources):
            continue
        new, old = _comparable(row[name]), _comparable(getattr(before, column))
        if new != old:
            changed.append(f"{name}: {old} stored, {new} in the file")
    return changed


def _comparable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None, microsecond=0).isoformat()
    return "" if value is None else value
