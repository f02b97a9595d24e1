"""Customers: Stripe's customer objects written where Stripe has a value, and the
integer ids that other rows refer to them by.

Other objects name their customer by Stripe id; the writer maps those to integer
`customers.id`, creating a stub for a customer not received yet (filled in when it
arrives). `email_key`, unique, is kept assigned by a rule that does not depend on the
order pages arrive in.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, case, func, or_, select, update

from etl.db import tables
from etl.db.upsert import dialect_insert
from etl.load.statements import execute_many

_CUSTOMER_FIELDS = ("extra_id", "email", "name", "currency", "metadata_json", "created")


def ensure_customers(
    conn: Connection, stripe_ids: Iterable[str | None], now: datetime
) -> dict[str, int]:
    """customers.id for each Stripe customer id, creating stub rows for unknown ones.

    A stub (only its Stripe id) is filled in when the customer itself arrives.
    """
    ids = {s for s in stripe_ids if s}
    if not ids:
        return {}
    c = tables.customers.c
    found = dict(conn.execute(select(c.stripe_id, c.id).where(c.stripe_id.in_(ids))).all())
    missing = ids - found.keys()
    if missing:
        ins = dialect_insert(conn, tables.customers).values(
            [
                {"stripe_id": s, "source": "stripe", "deleted": False, "updated_at": now}
                for s in sorted(missing)
            ]
        )
        conn.execute(ins.on_conflict_do_nothing(index_elements=["stripe_id"]))
        found.update(conn.execute(select(c.stripe_id, c.id).where(c.stripe_id.in_(missing))).all())
    return found


def upsert_customers(conn: Connection, rows: list[dict[str, Any]], now: datetime) -> None:
    """Stripe wins where Stripe has a value; API-created customers (no Stripe id) are untouched."""
    live = [r for r in rows if not r.get("deleted")]
    gone = [r["stripe_id"] for r in rows if r.get("deleted")]
    if live:
        values = [{**r, "source": "stripe", "updated_at": now} for r in live]
        execute_many(conn, tables.customers, values, "customers", _customer_upsert)
        assign_email_keys(conn, live)
    if gone:
        ensure_customers(conn, gone, now)
        conn.execute(
            update(tables.customers)
            .where(tables.customers.c.stripe_id.in_(gone), tables.customers.c.deleted.is_(False))
            .values(deleted=True, updated_at=now)
        )


def _customer_upsert(ins: Any, cols: list[str]) -> Any:
    ex = ins.excluded
    t = tables.customers.c
    fields = [c for c in _CUSTOMER_FIELDS if c in cols]
    set_: dict[str, Any] = {col: func.coalesce(ex[col], t[col]) for col in fields}
    # The state belongs to the country: a new country from Stripe brings its state (or none).
    set_["country"] = func.coalesce(ex.country, t.country)
    set_["state"] = case(
        (ex.country.is_not(None), ex.state), else_=func.coalesce(ex.state, t.state)
    )
    set_["deleted"] = ex.deleted
    set_["source"] = ex.source
    set_["updated_at"] = ex.updated_at
    where = or_(
        *[and_(ex[col].is_not(None), t[col].is_distinct_from(ex[col])) for col in fields],
        and_(ex.country.is_not(None), t.country.is_distinct_from(ex.country)),
        and_(ex.country.is_not(None), t.state.is_distinct_from(ex.state)),
        t.deleted.is_distinct_from(ex.deleted),
    )
    return ins.on_conflict_do_update(index_elements=["stripe_id"], set_=set_, where=where)


def _order(created: datetime | None, stripe_id: str | None) -> tuple[datetime, str]:
    return (created or datetime.max, stripe_id or "")


def assign_email_keys(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Keep `email_key` unique: of the Stripe customers sharing an email, the earliest
    created (then lowest Stripe id) holds it; a customer created through the API keeps
    its own. The rule does not depend on the order pages arrive in."""
    c = tables.customers.c
    sids = [r["stripe_id"] for r in rows]
    wanted = {r["stripe_id"]: r["email"].strip().lower() for r in rows if r.get("email")}
    keys = set(wanted.values())
    cond: Any = c.stripe_id.in_(sids)
    if keys:
        cond = or_(cond, c.email_key.in_(keys))
    current = conn.execute(
        select(c.id, c.stripe_id, c.created, c.email, c.email_key).where(cond)
    ).all()
    holders = {r.email_key: r for r in current if r.email_key}
    page = {r.stripe_id: r for r in current if r.stripe_id in set(sids)}
    changes: dict[int, str | None] = {}
    for sid, r in page.items():
        if r.email_key and r.email_key != wanted.get(sid):
            changes[r.id] = None
            holders.pop(r.email_key, None)
    claimants: dict[str, list[Any]] = defaultdict(list)
    for sid, key in wanted.items():
        if sid in page:
            claimants[key].append(page[sid])
    for key, group in claimants.items():
        holder = holders.get(key)
        if holder is not None and holder.stripe_id is None:
            continue
        pool = group + ([holder] if holder is not None else [])
        best = min(pool, key=lambda r: _order(r.created, r.stripe_id))
        if holder is None or best.id != holder.id:
            if holder is not None:
                changes[holder.id] = None
            changes[best.id] = key
    cleared = [i for i, k in changes.items() if k is None]
    if cleared:
        conn.execute(update(tables.customers).where(c.id.in_(cleared)).values(email_key=None))
    claimed = [{"cid": cid, "key": key} for cid, key in changes.items() if key is not None]
    if claimed:
        # One executemany: a statement per customer cost more than the rest of the page.
        conn.execute(
            update(tables.customers)
            .where(c.id == bindparam("cid"))
            .values(email_key=bindparam("key")),
            claimed,
        )
