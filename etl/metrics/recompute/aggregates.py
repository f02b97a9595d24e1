"""The aggregate tables `mrr_monthly` and `mrr_by_plan` written from the engine's sums:
rewritten by a full run, corrected row by row (only what changed) by an incremental one.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from etl.config import Settings
from etl.db import tables
from etl.metrics.engine import Aggregates, Params, by_plan_rows, monthly_rows, reporting_rows
from etl.metrics.recompute.report import RecomputeReport
from etl.periods import month_index

MONTHLY_KEY = ("month", "currency", "basis")
BYPLAN_KEY = ("month", "plan_id", "currency")


def stored_aggregates(conn: Connection) -> dict[str, dict[tuple[Any, ...], dict[str, Any]]]:
    """The rows of `mrr_monthly` and `mrr_by_plan` by primary key."""
    return {
        "monthly": {
            tuple(m[k] for k in MONTHLY_KEY): m
            for m in (dict(r._mapping) for r in conn.execute(select(tables.mrr_monthly)))
        },
        "by_plan": {
            tuple(m[k] for k in BYPLAN_KEY): m
            for m in (dict(r._mapping) for r in conn.execute(select(tables.mrr_by_plan)))
        },
    }


def replace_changed(
    conn: Connection,
    table: Any,
    key: tuple[str, ...],
    stored: dict[tuple[Any, ...], dict[str, Any]],
    rows: list[dict[str, Any]],
) -> None:
    """Make `table` hold `rows`, given its current rows `stored`: rows that are gone are
    deleted, changed ones updated, new ones inserted; equal rows are not touched."""
    stored = dict(stored)
    ins: list[dict[str, Any]] = []
    upd: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        old = stored.pop(tuple(row[k] for k in key), None)
        if old is None:
            ins.append(row)
        elif any(old.get(c) != v for c, v in row.items()):
            values = {c: v for c, v in row.items() if c not in key}
            values.update({f"k_{k}": row[k] for k in key})
            upd.setdefault(tuple(values), []).append(values)
    where = [table.c[k] == bindparam(f"k_{k}") for k in key]
    if stored:
        conn.execute(
            delete(table).where(*where),
            [{f"k_{k}": v for k, v in zip(key, kv, strict=True)} for kv in stored],
        )
    for params in upd.values():
        conn.execute(update(table).where(*where), params)
    for start in range(0, len(ins), 1000):
        conn.execute(insert(table), ins[start : start + 1000])


def write_aggregates(
    conn: Connection,
    settings: Settings,
    agg: Aggregates,
    params: Params,
    report: RecomputeReport,
    stored: dict[str, dict[tuple[Any, ...], dict[str, Any]]] | None = None,
) -> None:
    """The aggregate tables from `agg`: rewritten, or, given their `stored` rows (an
    incremental run), only the rows that changed."""
    agg.prune()
    mc = params.current_month
    rates = {
        (r.currency.lower(), month_index(r.month)): Decimal(r.rate)
        for r in conn.execute(
            select(tables.fx_rates.c.currency, tables.fx_rates.c.month, tables.fx_rates.c.rate)
        )
    }
    names = {r[0]: r[1] for r in conn.execute(select(tables.plans.c.id, tables.plans.c.name))}
    native = monthly_rows(agg, mc)
    rep, missing = reporting_rows(agg, rates, settings.reporting_currency, mc)
    plan_rows = by_plan_rows(agg, names)
    if stored is not None:
        replace_changed(conn, tables.mrr_monthly, MONTHLY_KEY, stored["monthly"], native + rep)
        replace_changed(conn, tables.mrr_by_plan, BYPLAN_KEY, stored["by_plan"], plan_rows)
    else:
        conn.execute(delete(tables.mrr_monthly))
        conn.execute(delete(tables.mrr_by_plan))
        if native or rep:
            conn.execute(insert(tables.mrr_monthly), native + rep)
        for start in range(0, len(plan_rows), 1000):
            conn.execute(insert(tables.mrr_by_plan), plan_rows[start : start + 1000])
    report.monthly_rows = len(native) + len(rep)
    report.by_plan_rows = len(plan_rows)
    report.missing_rates = missing
