"""Reading a recompute's inputs and stored rows: revenue lines (streamed, customer order),
expected renewals, refunds and credit notes, and a changed customer's stored rows.

Reads go through the driver by position, plain tuples in the engine's field order: a
million lines through SQLAlchemy rows cost more than the computation.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection

from etl.metrics.engine import Adjustment, CustomerRow, ExpectedItem, PlanRow

FETCH = 20_000

PLAN_COLS = list(PlanRow._fields)
CUST_COLS = list(CustomerRow._fields)
SNAP_COLS = [
    "customer_id",
    "month",
    "currency",
    "current_mrr",
    "current_subscription_count",
    "total_contract_value",
    "waiting_mrr",
    "as_of",
]

SNAP_VALUES = SNAP_COLS[:-1]  # the engine's Snapshot fields (no as_of)


def epoch_sql(conn: Connection, col: str) -> str:
    if conn.dialect.name == "sqlite":
        return f"CAST(strftime('%s', {col}) AS INTEGER)"
    return f"CAST(EXTRACT(EPOCH FROM {col}) AS BIGINT)"


def in_list(ids: Sequence[int]) -> str:
    return ",".join(str(int(i)) for i in ids)


def lines_sql(conn: Connection, where: str = "") -> str:
    def e(column: str) -> str:
        return epoch_sql(conn, column)

    return (
        "SELECT customer_id, currency, plan_id, subscription_id, kind, net_amount, tax_amount, "
        f"interval, interval_count, {e('period_start')}, {e('period_end')}, invoice_status, "
        f"{e('due_date')} FROM revenue_lines {where} ORDER BY customer_id"
    )


def stream_lines(conn: Connection, where: str = "") -> Iterator[tuple[Any, ...]]:
    """Revenue lines as plain tuples in `Line` field order, in customer order."""
    dbapi: Any = conn.connection.dbapi_connection
    assert dbapi is not None
    if conn.dialect.name == "postgresql":
        cur = dbapi.cursor(name=f"revenue_lines_{id(conn)}")
        cur.itersize = FETCH
    else:
        cur = dbapi.cursor()
    try:
        cur.execute(lines_sql(conn, where))
        while True:
            batch = cur.fetchmany(FETCH)
            if not batch:
                break
            yield from batch
    finally:
        cur.close()


def read_expected(conn: Connection, where: str = "") -> dict[int, list[ExpectedItem]]:
    def e(column: str) -> str:
        return epoch_sql(conn, column)

    sql = (
        "SELECT s.customer_id, s.id, s.status, s.cancel_at_period_end, "
        f"{e('s.cancel_at')}, {e('s.ended_at')}, si.plan_id, COALESCE(s.currency, p.currency), "
        "p.amount, si.quantity, p.interval, p.interval_count, "
        f"c.duration, c.percent_off, c.amount_off, {e('d.ends_at')}, "
        f"{e('COALESCE(si.current_period_end, s.current_period_end)')} "
        "FROM subscriptions s JOIN subscription_items si ON si.subscription_id = s.id "
        "JOIN plans p ON p.id = si.plan_id "
        "LEFT JOIN coupons c ON c.id = s.coupon_id "
        "LEFT JOIN (SELECT subscription_id, MAX(ends_at) AS ends_at FROM discounts "
        "WHERE subscription_id IS NOT NULL GROUP BY subscription_id) d ON d.subscription_id = s.id "
        "WHERE s.status IN ('active', 'past_due') AND s.customer_id IS NOT NULL "
        "AND p.interval IS NOT NULL AND p.amount IS NOT NULL AND p.usage_type = 'licensed'"
        + (f" AND s.customer_id IN ({where})" if where else "")
    )
    out: dict[int, list[ExpectedItem]] = {}
    for r in conn.exec_driver_sql(sql):
        item = ExpectedItem(
            r[0],
            r[1],
            r[2],
            bool(r[3]),
            r[4],
            r[5],
            r[6],
            (r[7] or "usd").lower(),
            int(r[8]),
            int(r[9] or 0),
            r[10],
            int(r[11] or 1),
            r[12],
            None if r[13] is None else Decimal(str(r[13])),
            None if r[14] is None else int(r[14]),
            r[15],
            r[16],
        )
        out.setdefault(item.customer_id, []).append(item)
    return out


def read_adjustments(conn: Connection, where: str = "") -> dict[int, list[Adjustment]]:
    filt = f" WHERE x.customer_id IN ({where})" if where else ""
    sql = (
        "SELECT x.customer_id, x.kind, x.status, x.currency, x.amount, x.tax FROM ("
        "SELECT COALESCE(r.customer_id, i.customer_id) AS customer_id, 'refund' AS kind, "
        "r.status AS status, r.currency AS currency, r.amount AS amount, 0 AS tax "
        "FROM refunds r LEFT JOIN invoices i ON i.id = r.invoice_id "
        "UNION ALL SELECT COALESCE(c.customer_id, i.customer_id), 'credit_note', c.status, "
        "c.currency, c.amount, c.tax_amount FROM credit_notes c "
        f"LEFT JOIN invoices i ON i.id = c.invoice_id) x{filt}"
    )
    out: dict[int, list[Adjustment]] = {}
    for r in conn.exec_driver_sql(sql):
        if r[0] is None:
            continue
        a = Adjustment(int(r[0]), r[1], r[2], (r[3] or "usd").lower(), int(r[4]), int(r[5] or 0))
        out.setdefault(a.customer_id, []).append(a)
    return out


class Months(dict[Any, date]):
    """A stored month -> its date: ISO text from SQLite's driver, a date from psycopg."""

    def __missing__(self, v: Any) -> date:
        self[v] = d = v if isinstance(v, date) else date.fromisoformat(v)
        return d


def rows_of(
    conn: Connection, ids: Sequence[int]
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The stored customer, plan and snapshot rows of `ids` as plain tuples in the engine's
    field order (months as dates), read by position through the driver."""
    dbapi: Any = conn.connection.dbapi_connection
    cur = dbapi.cursor()
    months = Months()
    where = f"WHERE customer_id IN ({in_list(ids)})"
    out: list[list[tuple[Any, ...]]] = []
    try:
        for table, cols, pos in (
            ("customer_mrr", CUST_COLS, 1),
            ("customer_plan_mrr", PLAN_COLS, 2),
            ("customer_snapshots", SNAP_VALUES, 1),
        ):
            cur.execute(f"SELECT {', '.join(cols)} FROM {table} {where}")
            rows = cur.fetchall()
            if pos == 1:
                out.append([(r[0], months[r[1]], *r[2:]) for r in rows])
            else:
                out.append([(r[0], r[1], months[r[2]], *r[3:]) for r in rows])
    finally:
        cur.close()
    return out[0], out[1], out[2]
