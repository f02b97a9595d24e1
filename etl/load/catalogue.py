"""The catalogue's plans: prices and legacy plans in one table, named once both are known.

Products and coupons are plain upserts by id (`etl.load.save`); plans need a rule of
precedence (a price's row wins over a legacy plan of the same id) and a name taken
from the product, which may arrive after the price.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select, update

from etl.db import tables
from etl.load.statements import execute_many, uniform_groups


def upsert_plans(conn: Connection, rows: list[dict[str, Any]], now: datetime) -> None:
    """Prices overwrite any row of their id; legacy plans never overwrite a price's row."""
    live = [{**r, "updated_at": now} for r in rows if not r.get("deleted")]
    for group in uniform_groups(live):
        legacy = group[0]["source"] == "stripe_plan"

        def build(ins: Any, cols: list[str], legacy: bool = legacy) -> Any:
            ex = ins.excluded
            changed = [c for c in cols if c not in ("id", "updated_at")]
            where = or_(*[tables.plans.c[col].is_distinct_from(ex[col]) for col in changed])
            if legacy:
                where = and_(tables.plans.c.source != "stripe_price", where)
            return ins.on_conflict_do_update(
                index_elements=["id"],
                set_={col: ex[col] for col in [*changed, "updated_at"]},
                where=where,
            )

        execute_many(conn, tables.plans, group, "plans_legacy" if legacy else "plans", build)
    gone = [r["id"] for r in rows if r.get("deleted")]
    if gone:
        conn.execute(
            update(tables.plans)
            .where(tables.plans.c.id.in_(gone), tables.plans.c.deleted.is_(False))
            .values(deleted=True, updated_at=now)
        )


def refresh_plan_names(conn: Connection) -> None:
    """name = nickname, else the product's name, else the id (set-based, only changed rows)."""
    p = tables.plans.c
    product_name = (
        select(tables.products.c.name).where(tables.products.c.id == p.product_id).scalar_subquery()
    )
    wanted = func.coalesce(p.nickname, product_name, p.id)
    conn.execute(
        update(tables.plans)
        .where(p.source.in_(["stripe_price", "stripe_plan"]), p.name.is_distinct_from(wanted))
        .values(name=wanted)
    )
