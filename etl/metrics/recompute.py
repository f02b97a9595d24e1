"""Recompute: read revenue lines, run the pure engine per customer, write the snapshots.

Full: every customer, streamed in customer order (constant memory), results written in
bulk. Incremental: only customers whose inputs changed since the last run (the
`dirty_customers` table, plus subscriptions, refunds and credit notes updated since,
plus customers with open invoices when a grace period makes them depend on `as_of`);
the aggregate tables are corrected by subtracting those customers' old rows and adding
their new ones, which is exact because every aggregate is a sum of per-customer
contributions. A change of month, time zone or metric setting forces a full run.

This is the only place that reads the clock (`as_of` defaults to now).
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, delete, insert, select, text, update

from etl.clock import utcnow
from etl.config import Settings
from etl.db import tables
from etl.db.engine import SQLITE_BUSY_TIMEOUT_MS
from etl.logs import get_logger
from etl.metrics.engine import (
    Adjustment,
    Aggregates,
    CustomerRow,
    ExpectedItem,
    Line,
    Params,
    PlanRow,
    by_plan_rows,
    compute_customer,
    monthly_rows,
    reporting_rows,
)
from etl.metrics.workers import IsoMonths, chunks_of, merge, receive, start_worker, text_rows
from etl.periods import month_date, month_index, to_epoch

log = get_logger(__name__)

CPM = tables.customer_plan_mrr

FLUSH_ROWS = 20_000
SQLITE_CACHE_KB = 256_000
PG_LOCK_KEY = 0x6D657472  # "metr"
FETCH = 20_000
CHUNK = 500
# Worker processes of a full recompute on SQLite (0: compute in this process).
WORKERS = 2

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


@dataclass
class RecomputeReport:
    full: bool
    reason: str
    as_of: datetime
    month: date
    customers: int = 0
    lines: int = 0
    customer_rows: int = 0
    plan_rows: int = 0
    snapshots: int = 0
    monthly_rows: int = 0
    by_plan_rows: int = 0
    unrated_lines: int = 0
    missing_rates: dict[str, list[str]] = field(default_factory=dict)
    duration_s: float = 0.0
    job_run_id: int | None = None

    def counts(self) -> dict[str, Any]:
        d = asdict(self)
        d["as_of"] = self.as_of.isoformat()
        d["month"] = self.month.isoformat()
        return d

    def missing_rates_summary(self) -> dict[str, str] | None:
        """Per currency, how many months lack an exchange rate and the first and last of
        them, e.g. {"eur": "60 months, 2020-01..2024-12"} (for log lines; the full lists
        stay in `missing_rates`)."""
        if not self.missing_rates:
            return None
        out = {}
        for cur, months in sorted(self.missing_rates.items()):
            ms = sorted(months)
            if not ms:
                continue
            span = ms[0] if len(ms) == 1 else f"{ms[0]}..{ms[-1]}"
            out[cur] = f"{len(ms)} month{'s' if len(ms) != 1 else ''} ({span})"
        return out or None

    def summary(self) -> str:
        mode = "full" if self.full else "incremental"
        text_ = (
            f"recompute ({mode}, as of {self.as_of.isoformat()}): {self.customers} customers, "
            f"{self.lines} lines -> {self.customer_rows} customer-months, {self.plan_rows} "
            f"customer-plan-months, {self.monthly_rows} monthly rows, {self.by_plan_rows} "
            f"plan-month rows, {self.snapshots} snapshots in {self.duration_s:.2f}s"
        )
        if self.unrated_lines:
            text_ += f"; {self.unrated_lines} subscription lines without a plan interval or period (no MRR)"
        if self.missing_rates:
            parts = [
                f"{c} ({', '.join(ms[:3])}{'…' if len(ms) > 3 else ''})"
                for c, ms in sorted(self.missing_rates.items())
            ]
            text_ += "; no exchange rate for " + "; ".join(parts)
        return text_


# ---------------------------------------------------------------- SQL helpers


def _epoch(conn: Connection, col: str) -> str:
    if conn.dialect.name == "sqlite":
        return f"CAST(strftime('%s', {col}) AS INTEGER)"
    return f"CAST(EXTRACT(EPOCH FROM {col}) AS BIGINT)"


def _in_list(ids: Sequence[int]) -> str:
    return ",".join(str(int(i)) for i in ids)


def _lines_sql(conn: Connection, where: str = "") -> str:
    e = lambda c: _epoch(conn, c)  # noqa: E731
    return (
        "SELECT customer_id, currency, plan_id, subscription_id, kind, net_amount, tax_amount, "
        f"interval, interval_count, {e('period_start')}, {e('period_end')}, invoice_status, "
        f"{e('due_date')} FROM revenue_lines {where} ORDER BY customer_id"
    )


def _stream_lines(conn: Connection, where: str = "") -> Iterator[tuple[Any, ...]]:
    """Revenue lines as plain tuples in `Line` field order, in customer order."""
    dbapi: Any = conn.connection.dbapi_connection
    assert dbapi is not None
    if conn.dialect.name == "postgresql":
        cur = dbapi.cursor(name=f"revenue_lines_{id(conn)}")
        cur.itersize = FETCH
    else:
        cur = dbapi.cursor()
    try:
        cur.execute(_lines_sql(conn, where))
        while True:
            batch = cur.fetchmany(FETCH)
            if not batch:
                break
            yield from batch
    finally:
        cur.close()


def _expected(conn: Connection, where: str = "") -> dict[int, list[ExpectedItem]]:
    e = lambda c: _epoch(conn, c)  # noqa: E731
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


def _adjustments(conn: Connection, where: str = "") -> dict[int, list[Adjustment]]:
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


class _Writer:
    """Bulk INSERTs through the driver: multi-row VALUES statements, the fastest path from
    Python on both databases. The engine's rows are tuples in column order; on SQLite the
    month goes out as the ISO text SQLAlchemy's DATE type stores.
    """

    ROWS_PER_STATEMENT = 200

    def __init__(self, conn: Connection, as_of: datetime, months_as_text: bool = False) -> None:
        self.conn = conn
        self.sqlite = conn.dialect.name == "sqlite"
        # Rows from `workers.text_rows`: months already text, snapshots with `as_of`.
        self.ready = months_as_text
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None
        self.cur = dbapi.cursor()
        self.ph = "?" if self.sqlite else "%s"
        self._iso = IsoMonths()
        self.as_of = as_of.strftime("%Y-%m-%d %H:%M:%S.%f") if self.sqlite else as_of
        self.plan: list[tuple[Any, ...]] = []
        self.cust: list[tuple[Any, ...]] = []
        self.snap: list[tuple[Any, ...]] = []
        self.counts = {"plan": 0, "cust": 0, "snap": 0}
        self._sql: dict[tuple[str, int], str] = {}
        self._queue: queue.Queue[tuple[list[Any], list[Any], list[Any]] | None] | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def add(self, plan_rows: list[Any], cust_rows: list[Any], snap: Any) -> None:
        self.plan += plan_rows
        self.cust += cust_rows
        if snap is not None:
            self.snap.append(snap if self.ready else (*snap, self.as_of))
        if len(self.plan) + len(self.cust) >= FLUSH_ROWS:
            self.flush()

    def _text_months(self, rows: list[tuple[Any, ...]], pos: int) -> list[tuple[Any, ...]]:
        iso = self._iso
        if pos == 2:  # customer_plan_mrr
            return [(c, k, iso[d], *rest) for c, k, d, *rest in rows]
        return [(c, iso[d], *rest) for c, d, *rest in rows]

    def _statement(self, table: str, cols: list[str], n: int) -> str:
        sql = self._sql.get((table, n))
        if sql is None:
            one = "(" + ",".join([self.ph] * len(cols)) + ")"
            sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES " + ",".join([one] * n)
            self._sql[(table, n)] = sql
        return sql

    def _insert(
        self, table: str, cols: list[str], rows: list[tuple[Any, ...]], month_pos: int
    ) -> None:
        if not rows:
            return
        if not self.sqlite:
            self._copy(table, cols, rows)
            return
        if not self.ready:
            rows = self._text_months(rows, month_pos)
        n = self.ROWS_PER_STATEMENT
        full = len(rows) - len(rows) % n
        execute = self.cur.execute
        if full:
            sql = self._statement(table, cols, n)
            for i in range(0, full, n):
                execute(sql, [x for r in rows[i : i + n] for x in r])
        rest = rows[full:]
        if rest:
            execute(self._statement(table, cols, len(rest)), [x for r in rest for x in r])

    def insert_flat(self, key: str, table: str, cols: list[str], flat: list[Any]) -> None:
        """Rows flattened in column order by a worker, inserted straight away (the parent
        only executes: flattening 20 M values here cost as much as a worker's share)."""
        w = len(cols)
        rows = len(flat) // w
        if not self.sqlite:
            self._copy(table, cols, [flat[i : i + w] for i in range(0, len(flat), w)])
            self.counts[key] += rows
            return
        n = self.ROWS_PER_STATEMENT
        step = n * w
        full = (rows - rows % n) * w
        execute = self.cur.execute
        if full:
            sql = self._statement(table, cols, n)
            for i in range(0, full, step):
                execute(sql, flat[i : i + step])
        if full < len(flat):
            execute(self._statement(table, cols, rows % n), flat[full:])
        self.counts[key] += rows

    def _copy(self, table: str, cols: list[str], rows: Sequence[Sequence[Any]]) -> None:
        """PostgreSQL: COPY, its bulk path. A multi-row INSERT there cost more than the
        whole computation: psycopg re-parses a long statement's placeholders each time."""
        with self.cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as cp:
            for r in rows:
                cp.write_row(r)

    def flush(self) -> None:
        self.counts["plan"] += len(self.plan)
        self.counts["cust"] += len(self.cust)
        self.counts["snap"] += len(self.snap)
        batch = (self.plan, self.cust, self.snap)
        self.plan, self.cust, self.snap = [], [], []
        if self._queue is not None:
            self._put(batch)
        else:
            self._write(batch)

    def _write(self, batch: tuple[list[Any], list[Any], list[Any]]) -> None:
        plan, cust, snap = batch
        self._insert("customer_plan_mrr", PLAN_COLS, plan, 2)
        self._insert("customer_mrr", CUST_COLS, cust, 1)
        self._insert("customer_snapshots", SNAP_COLS, snap, 1)

    def in_background(self) -> None:
        """PostgreSQL: write from a thread of its own, so that the database inserts one
        batch while this thread computes the next (the connection is the writer's alone
        from now until `close`: the lines must be read through another)."""
        self._queue = queue.Queue(maxsize=2)
        self._thread = threading.Thread(target=self._drain, name="recompute-writer", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        assert self._queue is not None
        while (batch := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._write(batch)
                except BaseException as exc:  # handed to the computing thread
                    self._error = exc

    def _put(self, batch: tuple[list[Any], list[Any], list[Any]] | None) -> None:
        assert self._queue is not None
        if self._error is not None:
            raise self._error
        self._queue.put(batch)

    def abandon(self) -> None:
        """Stop the background writer without writing what is left (the run failed: its
        transaction is rolled back)."""
        if self._thread is not None and self._queue is not None:
            self._error = self._error or RuntimeError("recompute abandoned")
            self._queue.put(None)
            self._thread.join()
            self._thread, self._queue = None, None
        self.cur.close()

    def close(self) -> None:
        self.flush()
        if self._thread is not None:
            self._put(None)
            self._thread.join()
            self._thread, self._queue = None, None
            if self._error is not None:
                raise self._error
        self.cur.close()


# ---------------------------------------------------------------- the job


def _state(settings: Settings, params: Params) -> dict[str, Any]:
    return {
        "month": month_date(params.current_month).isoformat(),
        "timezone": settings.timezone,
        "include_tax": settings.include_tax,
        "past_due_grace_days": settings.past_due_grace_days,
        "reporting_currency": settings.reporting_currency,
    }


def _naive_utc(ts: datetime) -> datetime:
    if ts.tzinfo is not None:
        return ts.astimezone(UTC).replace(tzinfo=None)
    return ts


def _last_run(conn: Connection) -> tuple[dict[str, Any], datetime] | None:
    row = conn.execute(
        select(tables.job_runs.c.counts_json, tables.job_runs.c.started_at)
        .where(tables.job_runs.c.job == "recompute", tables.job_runs.c.status == "ok")
        .order_by(tables.job_runs.c.id.desc())
        .limit(1)
    ).first()
    if row is None or not row[0]:
        return None
    try:
        return json.loads(row[0]).get("state", {}), row[1]
    except ValueError:
        return None


MONTHLY_KEY = ("month", "currency", "basis")
BYPLAN_KEY = ("month", "plan_id", "currency")


def _stored_aggregates(conn: Connection) -> dict[str, dict[tuple[Any, ...], dict[str, Any]]]:
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


def _replace_changed(
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


def _write_aggregates(
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
        _replace_changed(conn, tables.mrr_monthly, MONTHLY_KEY, stored["monthly"], native + rep)
        _replace_changed(conn, tables.mrr_by_plan, BYPLAN_KEY, stored["by_plan"], plan_rows)
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


def _sqlite_file(conn: Connection) -> str | None:
    """The SQLite database file workers can open, or None (PostgreSQL, in-memory)."""
    if WORKERS < 1 or conn.dialect.name != "sqlite":
        return None
    db = conn.engine.url.database
    if not db or db == ":memory:" or db.startswith("file:"):
        return None
    return os.path.abspath(db)


def _full_here(
    lines: Iterator[tuple[Any, ...]],
    params: Params,
    expected: dict[int, list[ExpectedItem]],
    adjustments: dict[int, list[Adjustment]],
    agg: Aggregates,
    writer: _Writer,
    report: RecomputeReport,
) -> None:
    seen: set[int] = set()

    def run(cid: int, lines: list[Line]) -> None:
        res = compute_customer(cid, lines, params, expected.get(cid, ()), adjustments.get(cid, ()))
        agg.add_rows(res.customer_rows, res.plan_rows)
        writer.add(res.plan_rows, res.customer_rows, res.snapshot)
        report.unrated_lines += res.unrated_lines
        report.lines += len(lines)
        report.customers += 1

    current: int | None = None
    buf: list[Any] = []
    for ln in lines:
        if ln[0] != current:
            if buf:
                run(current, buf)  # type: ignore[arg-type]
                seen.add(current)  # type: ignore[arg-type]
            current, buf = ln[0], []
        buf.append(ln)
    if buf:
        run(current, buf)  # type: ignore[arg-type]
        seen.add(current)  # type: ignore[arg-type]
    for cid in sorted((set(expected) | set(adjustments)) - seen):
        run(cid, [])


def _full_in_workers(
    conn: Connection,
    path: str,
    ids: list[int],
    params: Params,
    expected: dict[int, list[ExpectedItem]],
    adjustments: dict[int, list[Adjustment]],
    agg: Aggregates,
    writer: _Writer,
    report: RecomputeReport,
) -> None:
    """The customers `ids` (those with lines, in order), computed by worker processes
    (see workers.py) while this process writes. Their read transactions see the same lines as
    this one: `revenue_lines` is not written here and BEGIN IMMEDIATE keeps other
    writers out until the end."""
    chunks = chunks_of(ids)
    n = min(WORKERS, len(chunks))
    sql = _lines_sql(conn, "WHERE customer_id BETWEEN ? AND ?")
    procs: list[Any] = []
    try:
        for w in range(n):
            args = (path, sql, SQLITE_BUSY_TIMEOUT_MS, chunks[w::n], params)
            procs.append(start_worker((*args, expected, adjustments, writer.as_of)))
        for i in range(len(chunks)):
            _, plan, cust, snaps, customers, lines, unrated = receive(procs[i % n])
            writer.insert_flat("plan", "customer_plan_mrr", PLAN_COLS, plan)
            writer.insert_flat("cust", "customer_mrr", CUST_COLS, cust)
            writer.insert_flat("snap", "customer_snapshots", SNAP_COLS, snaps)
            report.customers += customers
            report.lines += lines
            report.unrated_lines += unrated
        for proc in procs:
            _, monthly, by_plan = receive(proc)
            merge(agg, monthly, by_plan)
    except BaseException:
        for proc in procs:
            proc.kill()
        raise
    finally:
        for proc in procs:
            proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()


def _full(
    conn: Connection, settings: Settings, params: Params, as_of: datetime, report: RecomputeReport
) -> None:
    for t in (CPM, tables.customer_mrr, tables.customer_snapshots):
        conn.execute(delete(t))
    # SQLite: secondary indexes are rebuilt once at the end, cheaper than maintaining them
    # row by row (readers keep their WAL snapshot). Not on PostgreSQL, where DROP INDEX
    # would lock readers out of the table until the transaction ends.
    indexes = (
        [idx for t in (CPM, tables.customer_mrr) for idx in t.indexes]
        if conn.dialect.name == "sqlite"
        else []
    )
    for idx in indexes:
        idx.drop(conn)
    expected = _expected(conn)
    adjustments = _adjustments(conn)
    agg = Aggregates()
    path = _sqlite_file(conn)
    ids: list[Any] = []
    if path is not None:
        ids = [
            r[0]
            for r in conn.exec_driver_sql(
                "SELECT DISTINCT customer_id FROM revenue_lines ORDER BY customer_id"
            )
        ]
    if path is not None and not (ids and ids[0] is None):
        writer = _Writer(conn, as_of, months_as_text=True)
        _full_in_workers(conn, path, ids, params, expected, adjustments, agg, writer, report)
        seen = set(ids)
        iso = IsoMonths()
        for cid in sorted((set(expected) | set(adjustments)) - seen):
            res = compute_customer(cid, [], params, expected.get(cid, ()), adjustments.get(cid, ()))
            agg.add_rows(res.customer_rows, res.plan_rows)
            writer.add(*text_rows(res, iso, str(writer.as_of)))
            report.unrated_lines += res.unrated_lines
            report.customers += 1
    elif conn.dialect.name == "postgresql":
        # The lines come through a connection of their own while this one only writes,
        # from a thread: PostgreSQL inserts one batch while the next is computed.
        writer = _Writer(conn, as_of)
        with conn.engine.connect() as reader:
            writer.in_background()
            try:
                _full_here(
                    _stream_lines(reader), params, expected, adjustments, agg, writer, report
                )
            except BaseException:
                writer.abandon()
                raise
    else:
        writer = _Writer(conn, as_of)
        _full_here(_stream_lines(conn), params, expected, adjustments, agg, writer, report)
    writer.close()
    for idx in indexes:
        idx.create(conn)
    report.customer_rows = writer.counts["cust"]
    report.plan_rows = writer.counts["plan"]
    report.snapshots = writer.counts["snap"]
    _write_aggregates(conn, settings, agg, params, report)


class _Months(dict[Any, date]):
    """A stored month -> its date: ISO text from SQLite's driver, a date from psycopg."""

    def __missing__(self, v: Any) -> date:
        self[v] = d = v if isinstance(v, date) else date.fromisoformat(v)
        return d


SNAP_VALUES = SNAP_COLS[:-1]  # the engine's Snapshot fields (no as_of)


def _rows_of(
    conn: Connection, ids: Sequence[int]
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The stored customer, plan and snapshot rows of `ids` as plain tuples in the engine's
    field order (months as dates), read by position through the driver."""
    dbapi: Any = conn.connection.dbapi_connection
    cur = dbapi.cursor()
    months = _Months()
    where = f"WHERE customer_id IN ({_in_list(ids)})"
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


def _diff(
    old: list[tuple[Any, ...]], new: list[Any], k: int
) -> tuple[list[Any], list[Any], list[tuple[Any, ...]]]:
    """`new` against `old`, rows keyed by their first `k` columns: (rows to insert, rows
    whose values changed, keys of rows to delete)."""
    before = {r[:k]: r for r in old}
    pop = before.pop
    ins: list[Any] = []
    upd: list[Any] = []
    for r in new:
        o = pop(tuple(r[:k]), None)
        if o is None:
            ins.append(r)
        elif o != tuple(r):
            upd.append(r)
    return ins, upd, list(before)


class _Patcher:
    """UPDATEs and DELETEs of rows by primary key, set-based (one statement per
    `ROWS_PER_STATEMENT` rows, keys as a VALUES list), on SQLite and PostgreSQL.

    Only the rows that changed are written: an UPDATE of non-indexed columns leaves the
    primary key and the month indexes alone, where DELETE + INSERT rewrote entries all over
    them (an incremental run's WAL was ~15,000 pages, mostly index pages).
    """

    ROWS_PER_STATEMENT = 200

    def __init__(self, conn: Connection) -> None:
        self.sqlite = conn.dialect.name == "sqlite"
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None
        self.cur = dbapi.cursor()
        self.ph = "?" if self.sqlite else "%s"
        self._iso = IsoMonths()
        self._staged = 0

    def _params(self, rows: list[Any], month_pos: int | None) -> list[tuple[Any, ...]]:
        if not self.sqlite or month_pos is None:
            return [tuple(r) for r in rows]
        iso, m = self._iso, month_pos
        return [(*r[:m], iso[r[m]], *r[m + 1 :]) for r in rows]

    def _chunks(self, rows: list[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
        n = self.ROWS_PER_STATEMENT
        for i in range(0, len(rows), n):
            yield rows[i : i + n]

    def update(
        self, table: str, cols: list[str], k: int, rows: list[Any], month_pos: int | None
    ) -> None:
        """Set columns `cols[k:]` of the rows keyed by `cols[:k]` to the values in `rows`."""
        if not rows:
            return
        if not self.sqlite:
            stage = self._stage(table, cols, self._params(rows, month_pos))
            sets = ", ".join(f"{c} = s.{c}" for c in cols[k:])
            on = " AND ".join(f"t.{c} = s.{c}" for c in cols[:k])
            self.cur.execute(f"UPDATE {table} AS t SET {sets} FROM {stage} AS s WHERE {on}")
            self.cur.execute(f"DROP TABLE {stage}")
            return
        sets = ", ".join(f"{c} = v.column{i + 1}" for i, c in enumerate(cols) if i >= k)
        on = " AND ".join(f"t.{c} = v.column{i + 1}" for i, c in enumerate(cols[:k]))
        one = "(" + ",".join([self.ph] * len(cols)) + ")"
        for part in self._chunks(self._params(rows, month_pos)):
            self.cur.execute(
                f"UPDATE {table} AS t SET {sets} FROM (VALUES {','.join([one] * len(part))}) "
                f"AS v WHERE {on}",
                [x for r in part for x in r],
            )

    def delete(
        self, table: str, cols: list[str], keys: list[tuple[Any, ...]], month_pos: int | None
    ) -> None:
        """Delete the rows keyed (`cols`) by `keys`; `cols[0]` is the customer id, which
        lets both databases find the rows by primary key."""
        if not keys:
            return
        if not self.sqlite:
            stage = self._stage(table, cols, self._params(keys, month_pos))
            on = " AND ".join(f"t.{c} = s.{c}" for c in cols)
            self.cur.execute(f"DELETE FROM {table} AS t USING {stage} AS s WHERE {on}")
            self.cur.execute(f"DROP TABLE {stage}")
            return
        one = "(" + ",".join([self.ph] * len(cols)) + ")"
        for part in self._chunks(self._params(keys, month_pos)):
            ids = _in_list(sorted({r[0] for r in part}))
            self.cur.execute(
                f"DELETE FROM {table} WHERE {cols[0]} IN ({ids}) AND ({', '.join(cols)}) IN "
                f"(VALUES {','.join([one] * len(part))})",
                [x for r in part for x in r],
            )

    def _stage(self, table: str, cols: list[str], rows: list[tuple[Any, ...]]) -> str:
        """PostgreSQL: the rows COPYed into a temporary table shaped like `table`'s
        columns. A VALUES list of thousands of placeholders cost more there than the
        work itself: psycopg re-parses a long statement's placeholders each time."""
        self._staged += 1
        stage = f"etl_patch_{self._staged}"
        names = ", ".join(cols)
        self.cur.execute(
            f"CREATE TEMPORARY TABLE {stage} ON COMMIT DROP AS "
            f"SELECT {names} FROM {table} WITH NO DATA"
        )
        with self.cur.copy(f"COPY {stage} ({names}) FROM STDIN") as cp:
            for r in rows:
                cp.write_row(r)
        return stage

    def close(self) -> None:
        self.cur.close()


def _incremental(
    conn: Connection,
    settings: Settings,
    params: Params,
    as_of: datetime,
    dirty: Sequence[int],
    report: RecomputeReport,
) -> None:
    stored = _stored_aggregates(conn)
    agg = Aggregates.from_tables(
        (r for r in stored["monthly"].values() if r["basis"] == "native"),
        stored["by_plan"].values(),
    )
    writer = _Writer(conn, as_of)
    patch = _Patcher(conn)
    for start in range(0, len(dirty), CHUNK):
        ids = list(dirty[start : start + CHUNK])
        old_cust, old_plan, old_snap = _rows_of(conn, ids)
        agg.add_rows(old_cust, old_plan, sign=-1)
        where = _in_list(ids)
        expected = _expected(conn, where)
        adjustments = _adjustments(conn, where)
        by_cust: dict[int, list[Any]] = {cid: [] for cid in ids}
        for ln in _stream_lines(conn, f"WHERE customer_id IN ({where})"):
            by_cust[ln[0]].append(ln)
        new_cust: list[Any] = []
        new_plan: list[Any] = []
        new_snap: list[Any] = []
        for cid in ids:
            lines = by_cust[cid]
            res = compute_customer(
                cid, lines, params, expected.get(cid, ()), adjustments.get(cid, ())
            )
            new_cust += res.customer_rows
            new_plan += res.plan_rows
            if res.snapshot is not None:
                new_snap.append(res.snapshot)
            report.unrated_lines += res.unrated_lines
            report.lines += len(lines)
            report.customers += 1
        agg.add_rows(new_cust, new_plan)
        report.customer_rows += len(new_cust)
        report.plan_rows += len(new_plan)
        report.snapshots += len(new_snap)
        # Only the rows that differ from the stored ones are written.
        for table, cols, k, m, old, new in (
            ("customer_mrr", CUST_COLS, 3, 1, old_cust, new_cust),
            ("customer_plan_mrr", PLAN_COLS, 4, 2, old_plan, new_plan),
        ):
            ins, upd, gone = _diff(old, new, k)
            patch.delete(table, cols[:k], gone, m)
            patch.update(table, cols, k, upd, m)
            if m == 1:
                writer.add([], ins, None)
            else:
                writer.add(ins, [], None)
        ins, upd, gone = _diff(old_snap, new_snap, 1)
        patch.delete("customer_snapshots", ["customer_id"], gone, None)
        # With `as_of` (the engine's snapshot has no such field).
        patch.update("customer_snapshots", SNAP_COLS, 1, [(*r, writer.as_of) for r in upd], 1)
        for snap in ins:
            writer.add([], [], snap)
    writer.close()
    patch.close()
    # Every snapshot carries the `as_of` of the last run (rows already at it stay untouched).
    conn.execute(
        update(tables.customer_snapshots)
        .where(tables.customer_snapshots.c.as_of != as_of)
        .values(as_of=as_of)
    )
    _write_aggregates(conn, settings, agg, params, report, stored)


def _dirty_set(
    conn: Connection, settings: Settings, since: datetime
) -> tuple[set[int], list[tuple[int, datetime]]]:
    marks = [
        (r[0], r[1])
        for r in conn.execute(
            select(tables.dirty_customers.c.customer_id, tables.dirty_customers.c.marked_at)
        )
    ]
    ids = {c for c, _ in marks}
    extra = [
        "SELECT customer_id FROM subscriptions WHERE updated_at >= :since AND customer_id IS NOT NULL",
        "SELECT COALESCE(r.customer_id, i.customer_id) FROM refunds r LEFT JOIN invoices i "
        "ON i.id = r.invoice_id WHERE r.updated_at >= :since",
        "SELECT COALESCE(c.customer_id, i.customer_id) FROM credit_notes c LEFT JOIN invoices i "
        "ON i.id = c.invoice_id WHERE c.updated_at >= :since",
    ]
    for sql in extra:
        ids |= {r[0] for r in conn.execute(text(sql), {"since": since}) if r[0] is not None}
    if settings.past_due_grace_days > 0:
        # Whether an open invoice still counts depends on as_of.
        ids |= {
            r[0]
            for r in conn.execute(
                text("SELECT DISTINCT customer_id FROM revenue_lines WHERE invoice_status = 'open'")
            )
        }
    return ids, marks


def recompute(
    engine: Engine,
    settings: Settings,
    *,
    as_of: datetime | None = None,
    full: bool = False,
    trigger: str = "cli",
) -> RecomputeReport:
    """Rebuild the metric tables; incremental unless `full` or the last run's state differs."""
    t0 = time.perf_counter()
    started = utcnow()
    as_of = _naive_utc(as_of) if as_of is not None else started
    params = Params(
        as_of=to_epoch(as_of),
        timezone=settings.timezone,
        include_tax=settings.include_tax,
        past_due_grace_days=settings.past_due_grace_days,
    )
    state = _state(settings, params)
    with engine.begin() as conn:
        pk = conn.execute(
            insert(tables.job_runs).values(
                job="recompute", trigger=trigger, status="running", started_at=started
            )
        ).inserted_primary_key
        assert pk is not None
        job_id = pk[0]
    report = RecomputeReport(
        full=True, reason="", as_of=as_of, month=month_date(params.current_month)
    )
    report.job_run_id = job_id
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                # A bigger page cache for this connection: index maintenance on a large
                # database otherwise thrashes the default 2 MB cache. (BEGIN IMMEDIATE
                # already serializes recomputes.)
                conn.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_CACHE_KB}")
            else:
                # One recompute at a time (API writes, sync and scheduler may all ask).
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({PG_LOCK_KEY})")
            last = _last_run(conn)
            if full:
                reason = "requested"
            elif last is None:
                reason = "no earlier recompute"
            elif last[0] != state:
                changed = sorted(k for k in state if last[0].get(k) != state[k])
                reason = "changed since the last run: " + ", ".join(changed)
            else:
                reason = ""
            if reason:
                marks = [
                    (r[0], r[1])
                    for r in conn.execute(
                        select(
                            tables.dirty_customers.c.customer_id, tables.dirty_customers.c.marked_at
                        )
                    )
                ]
                report.reason = reason
                _full(conn, settings, params, as_of, report)
            else:
                assert last is not None
                ids, marks = _dirty_set(conn, settings, last[1])
                report.full = False
                report.reason = f"{len(ids)} changed customers"
                _incremental(conn, settings, params, as_of, sorted(ids), report)
            if marks:
                stmt = delete(tables.dirty_customers).where(
                    tables.dirty_customers.c.customer_id == bindparam("c"),
                    tables.dirty_customers.c.marked_at == bindparam("t"),
                )
                conn.execute(stmt, [{"c": c, "t": t} for c, t in marks])
            report.duration_s = round(time.perf_counter() - t0, 3)
            counts = report.counts()
            counts["state"] = state
            conn.execute(
                update(tables.job_runs)
                .where(tables.job_runs.c.id == job_id)
                .values(
                    status="ok",
                    finished_at=utcnow(),
                    counts_json=json.dumps(counts, default=str),
                )
            )
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("PRAGMA cache_size=-2000")  # SQLite's default again
    except Exception as exc:
        with engine.begin() as conn:
            conn.execute(
                update(tables.job_runs)
                .where(tables.job_runs.c.id == job_id)
                .values(
                    status="failed",
                    finished_at=utcnow(),
                    error=str(exc)[:2000],
                )
            )
        raise
    if report.full and engine.dialect.name == "postgresql":
        # Statistics of the tables just rewritten: with those of the previous contents
        # PostgreSQL read 1.1 M rows (a sequential scan) to find an incremental run's
        # few thousand. After the commit, so the run's lock is not held meanwhile.
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE customer_plan_mrr, customer_mrr, customer_snapshots")
    log.info(
        "recompute",
        full=report.full,
        reason=report.reason,
        as_of=as_of.isoformat(),
        customers=report.customers,
        lines=report.lines,
        customer_rows=report.customer_rows,
        monthly_rows=report.monthly_rows,
        missing_rates=report.missing_rates_summary(),
        unrated_lines=report.unrated_lines,
        duration_s=report.duration_s,
    )
    return report
