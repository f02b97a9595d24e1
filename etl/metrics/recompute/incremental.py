"""The incremental recompute: only the customers whose inputs changed since the last run,
their rows patched and the aggregates corrected by difference.

The aggregates are corrected by subtracting those customers' old rows and adding their
new ones, which is exact because every aggregate is a sum of per-customer contributions.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, text, update

from etl.config import Settings
from etl.db import tables
from etl.metrics.engine import Aggregates, Params, compute_customer
from etl.metrics.recompute.aggregates import stored_aggregates, write_aggregates
from etl.metrics.recompute.patch import Patcher, diff
from etl.metrics.recompute.reading import (
    CUST_COLS,
    PLAN_COLS,
    SNAP_COLS,
    in_list,
    read_adjustments,
    read_expected,
    rows_of,
    stream_lines,
)
from etl.metrics.recompute.report import RecomputeReport
from etl.metrics.recompute.writer import Writer

CHUNK = 500


def run_incremental(
    conn: Connection,
    settings: Settings,
    params: Params,
    as_of: datetime,
    dirty: Sequence[int],
    report: RecomputeReport,
) -> None:
    """Recompute the customers `dirty`, CHUNK at a time: the aggregates lose their stored
    rows and gain their new ones; only the rows that differ are written."""
    stored = stored_aggregates(conn)
    agg = Aggregates.from_tables(
        (r for r in stored["monthly"].values() if r["basis"] == "native"),
        stored["by_plan"].values(),
    )
    writer = Writer(conn, as_of)
    patch = Patcher(conn)
    for start in range(0, len(dirty), CHUNK):
        ids = list(dirty[start : start + CHUNK])
        old_cust, old_plan, old_snap = rows_of(conn, ids)
        agg.add_rows(old_cust, old_plan, sign=-1)
        new_cust, new_plan, new_snap = _compute(conn, ids, params, report)
        agg.add_rows(new_cust, new_plan)
        _patch(patch, writer, (old_cust, old_plan, old_snap), (new_cust, new_plan, new_snap))
    writer.close()
    patch.close()
    # Every snapshot carries the `as_of` of the last run (rows already at it stay untouched).
    conn.execute(
        update(tables.customer_snapshots)
        .where(tables.customer_snapshots.c.as_of != as_of)
        .values(as_of=as_of)
    )
    write_aggregates(conn, settings, agg, params, report, stored)


def _compute(
    conn: Connection, ids: list[int], params: Params, report: RecomputeReport
) -> tuple[list[Any], list[Any], list[Any]]:
    """The new customer, plan and snapshot rows of the customers `ids`."""
    where = in_list(ids)
    expected = read_expected(conn, where)
    adjustments = read_adjustments(conn, where)
    by_cust: dict[int, list[Any]] = {cid: [] for cid in ids}
    for ln in stream_lines(conn, f"WHERE customer_id IN ({where})"):
        by_cust[ln[0]].append(ln)
    new_cust: list[Any] = []
    new_plan: list[Any] = []
    new_snap: list[Any] = []
    for cid in ids:
        lines = by_cust[cid]
        res = compute_customer(cid, lines, params, expected.get(cid, ()), adjustments.get(cid, ()))
        new_cust += res.customer_rows
        new_plan += res.plan_rows
        if res.snapshot is not None:
            new_snap.append(res.snapshot)
        report.unrated_lines += res.unrated_lines
        report.lines += len(lines)
        report.customers += 1
    report.customer_rows += len(new_cust)
    report.plan_rows += len(new_plan)
    report.snapshots += len(new_snap)
    return new_cust, new_plan, new_snap


def _patch(
    patch: Patcher,
    writer: Writer,
    old: tuple[list[Any], list[Any], list[Any]],
    new: tuple[list[Any], list[Any], list[Any]],
) -> None:
    """Write only the rows that differ from the stored ones (customer, plan, snapshot)."""
    for table, cols, k, m, old_rows, new_rows in (
        ("customer_mrr", CUST_COLS, 3, 1, old[0], new[0]),
        ("customer_plan_mrr", PLAN_COLS, 4, 2, old[1], new[1]),
    ):
        ins, upd, gone = diff(old_rows, new_rows, k)
        patch.delete(table, cols[:k], gone, m)
        patch.update(table, cols, k, upd, m)
        if m == 1:
            writer.add([], ins, None)
        else:
            writer.add(ins, [], None)
    ins, upd, gone = diff(old[2], new[2], 1)
    patch.delete("customer_snapshots", ["customer_id"], gone, None)
    # With `as_of` (the engine's snapshot has no such field).
    patch.update("customer_snapshots", SNAP_COLS, 1, [(*r, writer.as_of) for r in upd], 1)
    for snap in ins:
        writer.add([], [], snap)


def dirty_set(
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
