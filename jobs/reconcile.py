"""The nightly reconciliation: a full load compared with the tables, drift repaired.

Incremental syncs follow Stripe's events; an event missed (a webhook-less gap longer
than Stripe's 30 days, a bug, a hand-edited row) leaves the tables drifting from Stripe.
Once a night the sync runs in full mode into the same tables. Its upserts only touch
rows whose content differs (`updated_at` moves only then) and the raw layer stores a new
version only for new content, so what the full load changed IS the drift, and it is
repaired by the load itself. The report counts it, set-based:

- `rows_changed`: per normalized table, rows inserted or updated by the full load;
- `new_raw_versions`: per Stripe object type, versions the incremental syncs had missed;
- `rows_before` / `rows_after`: table sizes, so added rows are visible at a glance.

A night with no drift reports zeros everywhere; anything else is worth a look in the log.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, func, select

from etl.db.models import (
    Coupon,
    CreditNote,
    Customer,
    Discount,
    Invoice,
    InvoiceItem,
    InvoiceLine,
    Plan,
    Product,
    RawObject,
    Refund,
    Subscription,
    SubscriptionItem,
)
from jobs.runner import JobContext, utcnow

if TYPE_CHECKING:
    from datetime import datetime

    from etl.bootstrap import Container

NORMALIZED = {
    "customers": Customer,
    "products": Product,
    "plans": Plan,
    "coupons": Coupon,
    "subscriptions": Subscription,
    "subscription_items": SubscriptionItem,
    "discounts": Discount,
    "invoices": Invoice,
    "invoice_lines": InvoiceLine,
    "invoice_items": InvoiceItem,
    "credit_notes": CreditNote,
    "refunds": Refund,
}


def table_sizes(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            name: int(
                conn.execute(
                    select(func.count()).select_from(model.__table__)  # type: ignore[attr-defined]
                ).scalar_one()
            )
            for name, model in NORMALIZED.items()
        }


def max_raw_id(engine: Engine) -> int:
    t = RawObject.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        return int(conn.execute(select(func.coalesce(func.max(t.c.id), 0))).scalar_one())


def drift_since(engine: Engine, since: datetime, raw_id_before: int) -> dict[str, Any]:
    """Rows the full load wrote after `since`, and raw versions added after `raw_id_before`."""
    raw = RawObject.__table__  # type: ignore[attr-defined]
    changed: dict[str, int] = {}
    with engine.connect() as conn:
        for name, model in NORMALIZED.items():
            t = model.__table__  # type: ignore[attr-defined]
            if "updated_at" not in t.c:
                continue
            n = conn.execute(
                select(func.count()).select_from(t).where(t.c.updated_at >= since)
            ).scalar_one()
            if n:
                changed[name] = int(n)
        versions = {
            str(kind): int(n)
            for kind, n in conn.execute(
                select(raw.c.object_type, func.count())
                .where(raw.c.id > raw_id_before)
                .group_by(raw.c.object_type)
                .order_by(raw.c.object_type)
            )
        }
    return {"rows_changed": changed, "new_raw_versions": versions}


def run(container: Container, ctx: JobContext) -> dict[str, Any]:
    from jobs.sync import sync_once

    engine = container.engine
    before = table_sizes(engine)
    raw_before = max_raw_id(engine)
    # Timestamps are stored to the microsecond or truncated depending on the backend:
    # a small margin keeps a row written in the same instant from being missed.
    started = utcnow() - timedelta(milliseconds=5)
    sync = sync_once(container, ctx, full=True)
    drift = drift_since(engine, started, raw_before)
    after = table_sizes(engine)
    return {
        "drift_rows": sum(drift["rows_changed"].values()),
        "drift_raw_versions": sum(drift["new_raw_versions"].values()),
        **drift,
        "rows_before": before,
        "rows_after": after,
        "sync": sync,
    }
