"""`recompute`: one run, full or incremental, in one write transaction, logged in job_runs.

A run is full when asked, before the first run, or when the month, time zone or a metric
setting differs from the last successful run's (`recompute_state`); otherwise only the
customers whose inputs changed since that run's start are recomputed. This is the only
place that reads the clock (`as_of` defaults to now).
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, delete, insert, select, update

from etl.clock import utcnow
from etl.config import Settings
from etl.db import tables
from etl.logs import get_logger
from etl.metrics.engine import Params
from etl.metrics.recompute.full import run_full
from etl.metrics.recompute.incremental import dirty_set, run_incremental
from etl.metrics.recompute.report import RecomputeReport
from etl.metrics.recompute.state import last_state, naive_utc, save_state, settings_state
from etl.periods import month_date, to_epoch

log = get_logger(__name__)

SQLITE_CACHE_KB = 256_000
PG_LOCK_KEY = 0x6D657472  # "metr"


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
    as_of = naive_utc(as_of) if as_of is not None else started
    params = Params(
        as_of=to_epoch(as_of),
        timezone=settings.timezone,
        include_tax=settings.include_tax,
        past_due_grace_days=settings.past_due_grace_days,
    )
    job_id = _start_job_row(engine, trigger, started)
    report = RecomputeReport(
        full=True, reason="", as_of=as_of, month=month_date(params.current_month)
    )
    report.job_run_id = job_id
    try:
        with engine.begin() as conn:
            _run(conn, settings, params, report, started, full=full)
            report.duration_s = round(time.perf_counter() - t0, 3)
            _finish_job_row(
                conn, job_id, status="ok", counts_json=json.dumps(report.counts(), default=str)
            )
    except Exception as exc:
        with engine.begin() as conn:
            _finish_job_row(conn, job_id, status="failed", error=str(exc)[:2000])
        raise
    if report.full and engine.dialect.name == "postgresql":
        # Statistics of the tables just rewritten: with those of the previous contents
        # PostgreSQL read 1.1 M rows (a sequential scan) to find an incremental run's
        # few thousand. After the commit, so the run's lock is not held meanwhile.
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE customer_plan_mrr, customer_mrr, customer_snapshots")
    _log(report)
    return report


def _run(
    conn: Connection,
    settings: Settings,
    params: Params,
    report: RecomputeReport,
    started: datetime,
    *,
    full: bool,
) -> None:
    """The run itself, in the write transaction `conn`: full or incremental, then the dirty
    marks it covered cleared and its state saved for the next run."""
    if conn.dialect.name == "sqlite":
        # A bigger page cache for this connection: index maintenance on a large database
        # otherwise thrashes the default 2 MB cache. (BEGIN IMMEDIATE already serializes
        # recomputes.)
        conn.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_CACHE_KB}")
    else:
        # One recompute at a time (API writes, sync and scheduler may all ask).
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({PG_LOCK_KEY})")
    state = settings_state(settings, params)
    last = last_state(conn)
    reason = _full_reason(full, last, state)
    if reason or last is None:
        dirty = tables.dirty_customers.c
        marks = [(r[0], r[1]) for r in conn.execute(select(dirty.customer_id, dirty.marked_at))]
        report.reason = reason
        run_full(conn, settings, params, report.as_of, report)
    else:
        ids, marks = dirty_set(conn, settings, last[1])
        report.full = False
        report.reason = f"{len(ids)} changed customers"
        run_incremental(conn, settings, params, report.as_of, sorted(ids), report)
    if marks:
        # Only the marks read before the run: a customer marked meanwhile stays dirty.
        stmt = delete(tables.dirty_customers).where(
            tables.dirty_customers.c.customer_id == bindparam("c"),
            tables.dirty_customers.c.marked_at == bindparam("t"),
        )
        conn.execute(stmt, [{"c": c, "t": t} for c, t in marks])
    save_state(
        conn,
        state,
        started_at=started,
        as_of=report.as_of,
        full=report.full,
        job_run_id=report.job_run_id,
    )
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA cache_size=-2000")  # SQLite's default again


def _full_reason(
    requested: bool, last: tuple[dict[str, Any], datetime] | None, state: dict[str, Any]
) -> str:
    """Why this run must be full, or "" when it may be incremental."""
    if requested:
        return "requested"
    if last is None:
        return "no earlier recompute"
    if last[0] != state:
        changed = sorted(k for k in state if last[0].get(k) != state[k])
        return "changed since the last run: " + ", ".join(changed)
    return ""


def _start_job_row(engine: Engine, trigger: str, started: datetime) -> int:
    """The run's job_runs row (the log `etl status` and /healthz read), committed at once."""
    with engine.begin() as conn:
        pk = conn.execute(
            insert(tables.job_runs).values(
                job="recompute", trigger=trigger, status="running", started_at=started
            )
        ).inserted_primary_key
    assert pk is not None
    return int(pk[0])


def _finish_job_row(conn: Connection, job_id: int, **values: Any) -> None:
    conn.execute(
        update(tables.job_runs)
        .where(tables.job_runs.c.id == job_id)
        .values(finished_at=utcnow(), **values)
    )


def _log(report: RecomputeReport) -> None:
    log.info(
        "recompute",
        full=report.full,
        reason=report.reason,
        as_of=report.as_of.isoformat(),
        customers=report.customers,
        lines=report.lines,
        customer_rows=report.customer_rows,
        monthly_rows=report.monthly_rows,
        missing_rates=report.missing_rates_summary(),
        unrated_lines=report.unrated_lines,
        duration_s=report.duration_s,
    )
