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

- `not_seen`: per object type, current objects the full load did not list: deleted in
  Stripe while the events saying so were missed. Customers, products, prices, plans and
  coupons among them are marked deleted (`deleted_marked`); raw versions stay as they
  were received. Resources this Stripe does not serve (skipped by the sync) are left out.
  Marking happens only after a whole listing (a page that is not whole stops the sync),
  and never for more than `ETL_RECONCILE_MAX_DELETE_SHARE` of a table: beyond it the
  job fails and marks nothing.

A night with no drift reports zeros everywhere; anything else is worth a look in the log.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, Table, false, func, select, true, update

from etl.clock import utcnow
from etl.db import tables
from etl.errors import EtlError
from etl.extract.types import STRIPE_TYPES, normalized_tables
from jobs.runner import JobContext

if TYPE_CHECKING:
    from etl.bootstrap import Container

# Every table the sync's objects are normalized into, by name.
NORMALIZED: dict[str, Table] = {name: getattr(tables, name) for name in normalized_tables()}


def table_sizes(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
            for name, t in NORMALIZED.items()
        }


def max_raw_id(engine: Engine) -> int:
    t = tables.raw_objects
    with engine.connect() as conn:
        return int(conn.execute(select(func.coalesce(func.max(t.c.id), 0))).scalar_one())


def drift_since(engine: Engine, since: datetime, raw_id_before: int) -> dict[str, Any]:
    """Rows the full load wrote after `since`, and raw versions added after `raw_id_before`."""
    raw = tables.raw_objects
    changed: dict[str, int] = {}
    with engine.connect() as conn:
        for name, t in NORMALIZED.items():
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


# Object type -> (table, its Stripe id column) for the types whose rows can be marked
# deleted: customers and the catalogue.
DELETABLE: dict[str, tuple[Table, str]] = {
    t.object: (getattr(tables, t.tables[0]), t.stripe_id_column)
    for t in STRIPE_TYPES
    if t.catalogue
}


def _unseen(types: list[str], since: datetime) -> Any:
    raw = tables.raw_objects
    return (
        raw.c.object_type.in_(types),
        raw.c.is_current == true(),
        raw.c.deleted == false(),
        raw.c.fetched_at < since,
    )


def not_seen_since(engine: Engine, since: datetime, types: list[str]) -> dict[str, int]:
    """Current, undeleted objects of `types` that no fetch has refreshed since `since`."""
    raw = tables.raw_objects
    if not types:
        return {}
    with engine.connect() as conn:
        return {
            str(kind): int(n)
            for kind, n in conn.execute(
                select(raw.c.object_type, func.count())
                .where(*_unseen(types, since))
                .group_by(raw.c.object_type)
                .order_by(raw.c.object_type)
            )
        }


class TooManyDeletionsError(EtlError):
    """The listing would mark more of a table deleted than ETL_RECONCILE_MAX_DELETE_SHARE."""


def _check_share(conn: Connection, table: Table, id_col: str, gone: Any, max_share: float) -> None:
    """Refuse (nothing marked) when `gone` holds more than `max_share` of `table`'s rows."""
    alive = table.c.deleted == false()
    total, hit = conn.execute(
        select(
            func.count(),
            func.count().filter(table.c[id_col].in_(gone)),
        ).where(alive)
    ).one()
    if hit and hit > max_share * total:
        raise TooManyDeletionsError(
            f"reconcile refuses to mark {hit} of {total} {table.name} deleted "
            f"({hit / total:.0%}, above ETL_RECONCILE_MAX_DELETE_SHARE={max_share:g}): "
            "Stripe's listing is more likely incomplete than a real purge; nothing was "
            "marked. Raise the setting to accept it"
        )


def mark_unseen_deleted(
    engine: Engine, since: datetime, types: list[str], *, max_share: float = 1.0
) -> dict[str, int]:
    """Mark deleted the rows of objects Stripe no longer lists; one UPDATE per table, all
    in one transaction, none when any table would lose more than `max_share` of its rows."""
    raw = tables.raw_objects
    marked: dict[str, int] = {}
    now = utcnow()
    with engine.begin() as conn:
        for otype in types:
            if otype not in DELETABLE:
                continue
            t, id_col = DELETABLE[otype]
            gone = select(raw.c.stripe_id).where(*_unseen([otype], since))
            _check_share(conn, t, id_col, gone, max_share)
            res = conn.execute(
                update(t)
                .where(t.c[id_col].in_(gone), t.c.deleted == false())
                .values(deleted=True, updated_at=now)
            )
            if res.rowcount:
                marked[t.name] = marked.get(t.name, 0) + int(res.rowcount)
    return marked


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
    skipped = set(sync.get("skipped_resources") or [])
    listed = [t.object for t in STRIPE_TYPES if t.resource not in skipped]
    not_seen = not_seen_since(engine, started, listed)
    # Only after a whole, validated listing: a page that was not whole stopped the sync
    # above (`etl.extract.pages`), before anything was inferred from it.
    marked = mark_unseen_deleted(
        engine,
        started,
        [t for t in listed if t in not_seen],
        max_share=container.settings.reconcile_max_delete_share,
    )
    after = table_sizes(engine)
    return {
        "drift_rows": sum(drift["rows_changed"].values()),
        "drift_raw_versions": sum(drift["new_raw_versions"].values()),
        "drift_not_seen": sum(not_seen.values()),
        **drift,
        "not_seen": not_seen,
        "deleted_marked": marked,
        "rows_before": before,
        "rows_after": after,
        "sync": sync,
    }
