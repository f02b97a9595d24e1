"""The full recompute: every customer's rows rewritten, then the aggregates.

On SQLite the computation runs in worker processes (workers.py) while this process
writes; on PostgreSQL the lines come through a second connection while a writer thread
inserts; otherwise (in-memory SQLite, WORKERS = 0) all in this process.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete

from etl.config import Settings
from etl.db import tables
from etl.db.engine import SQLITE_BUSY_TIMEOUT_MS
from etl.metrics.engine import Adjustment, Aggregates, ExpectedItem, Line, Params, compute_customer
from etl.metrics.recompute.aggregates import write_aggregates
from etl.metrics.recompute.reading import (
    CUST_COLS,
    PLAN_COLS,
    SNAP_COLS,
    lines_sql,
    read_adjustments,
    read_expected,
    stream_lines,
)
from etl.metrics.recompute.report import RecomputeReport
from etl.metrics.recompute.writer import Writer
from etl.metrics.workers import IsoMonths, chunks_of, merge, receive, start_worker, text_rows

# Worker processes of a full recompute on SQLite (0: compute in this process).
WORKERS = 2


def _sqlite_file(conn: Connection) -> str | None:
    """The SQLite database file workers can open, or None (PostgreSQL, in-memory)."""
    if WORKERS < 1 or conn.dialect.name != "sqlite":
        return None
    db = conn.engine.url.database
    if not db or db == ":memory:" or db.startswith("file:"):
        return None
    return os.path.abspath(db)


def _in_this_process(
    lines: Iterator[tuple[Any, ...]],
    params: Params,
    expected: dict[int, list[ExpectedItem]],
    adjustments: dict[int, list[Adjustment]],
    agg: Aggregates,
    writer: Writer,
    report: RecomputeReport,
) -> None:
    """The streamed `lines` computed here customer by customer, then the customers with
    only subscriptions or adjustments; rows go to `writer` as they come."""
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


def _in_workers(
    conn: Connection,
    path: str,
    ids: list[int],
    params: Params,
    expected: dict[int, list[ExpectedItem]],
    adjustments: dict[int, list[Adjustment]],
    agg: Aggregates,
    writer: Writer,
    report: RecomputeReport,
) -> None:
    """The customers `ids` (those with lines, in order), computed by worker processes
    (see workers.py) while this process writes. Their read transactions see the same lines as
    this one: `revenue_lines` is not written here and BEGIN IMMEDIATE keeps other
    writers out until the end."""
    chunks = chunks_of(ids)
    n = min(WORKERS, len(chunks))
    sql = lines_sql(conn, "WHERE customer_id BETWEEN ? AND ?")
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


def run_full(
    conn: Connection, settings: Settings, params: Params, as_of: datetime, report: RecomputeReport
) -> None:
    """Every customer's rows rewritten, then the aggregate tables."""
    for t in (tables.customer_plan_mrr, tables.customer_mrr, tables.customer_snapshots):
        conn.execute(delete(t))
    # SQLite: secondary indexes are rebuilt once at the end, cheaper than maintaining them
    # row by row (readers keep their WAL snapshot). Not on PostgreSQL, where DROP INDEX
    # would lock readers out of the table until the transaction ends.
    indexes = (
        [idx for t in (tables.customer_plan_mrr, tables.customer_mrr) for idx in t.indexes]
        if conn.dialect.name == "sqlite"
        else []
    )
    for idx in indexes:
        idx.drop(conn)
    expected = read_expected(conn)
    adjustments = read_adjustments(conn)
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
    inputs = (params, expected, adjustments)
    if path is not None and not (ids and ids[0] is None):
        writer = _with_workers(conn, (path, ids), as_of, inputs, agg, report)
    elif conn.dialect.name == "postgresql":
        writer = _with_writer_thread(conn, as_of, inputs, agg, report)
    else:
        writer = Writer(conn, as_of)
        _in_this_process(stream_lines(conn), params, expected, adjustments, agg, writer, report)
    writer.close()
    for idx in indexes:
        idx.create(conn)
    report.customer_rows = writer.counts["cust"]
    report.plan_rows = writer.counts["plan"]
    report.snapshots = writer.counts["snap"]
    write_aggregates(conn, settings, agg, params, report)


Inputs = tuple[Params, dict[int, list[ExpectedItem]], dict[int, list[Adjustment]]]


def _with_workers(
    conn: Connection,
    customers: tuple[str, list[int]],
    as_of: datetime,
    inputs: Inputs,
    agg: Aggregates,
    report: RecomputeReport,
) -> Writer:
    """SQLite: the customers `ids` (those with lines) computed by worker processes reading
    the database file `path`, then here those with only subscriptions or adjustments."""
    path, ids = customers
    params, expected, adjustments = inputs
    writer = Writer(conn, as_of, months_as_text=True)
    _in_workers(conn, path, ids, params, expected, adjustments, agg, writer, report)
    seen = set(ids)
    iso = IsoMonths()
    for cid in sorted((set(expected) | set(adjustments)) - seen):
        res = compute_customer(cid, [], params, expected.get(cid, ()), adjustments.get(cid, ()))
        agg.add_rows(res.customer_rows, res.plan_rows)
        writer.add(*text_rows(res, iso, str(writer.as_of)))
        report.unrated_lines += res.unrated_lines
        report.customers += 1
    return writer


def _with_writer_thread(
    conn: Connection, as_of: datetime, inputs: Inputs, agg: Aggregates, report: RecomputeReport
) -> Writer:
    """PostgreSQL: the lines come through a connection of their own while this one only
    writes, from a thread: PostgreSQL inserts one batch while the next is computed."""
    params, expected, adjustments = inputs
    writer = Writer(conn, as_of)
    with conn.engine.connect() as reader:
        writer.in_background()
        try:
            _in_this_process(
                stream_lines(reader), params, expected, adjustments, agg, writer, report
            )
        except BaseException:
            writer.abandon()
            raise
    return writer
