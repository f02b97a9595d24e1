"""The recompute's memory of its last successful run, in `recompute_state` (one row).

The settings a run computed with decide whether the next may be incremental (a new month,
time zone or metric setting forces a full run), and its start is the instant since which
changed inputs (subscriptions, refunds, credit notes) make a customer dirty. The table is
the recompute's own: `job_runs` stays the log of runs that the scheduler and `etl status`
read.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from etl.config import Settings
from etl.db import tables
from etl.db.upsert import upsert_rows
from etl.metrics.engine import Params
from etl.periods import month_date

STATE = tables.recompute_state
# The columns compared between runs; any difference forces a full run.
COMPARED = ("month", "timezone", "include_tax", "past_due_grace_days", "reporting_currency")
ROW_ID = 1


def settings_state(settings: Settings, params: Params) -> dict[str, Any]:
    """What a run at `params` with `settings` computes with (the COMPARED columns)."""
    return {
        "month": month_date(params.current_month),
        "timezone": settings.timezone,
        "include_tax": settings.include_tax,
        "past_due_grace_days": settings.past_due_grace_days,
        "reporting_currency": settings.reporting_currency,
    }


def naive_utc(ts: datetime) -> datetime:
    if ts.tzinfo is not None:
        return ts.astimezone(UTC).replace(tzinfo=None)
    return ts


def last_state(conn: Connection) -> tuple[dict[str, Any], datetime] | None:
    """The last successful run's settings and start, or None before the first run."""
    row = conn.execute(select(STATE).where(STATE.c.id == ROW_ID)).mappings().first()
    if row is None:
        return None
    return {k: row[k] for k in COMPARED}, row["started_at"]


def save_state(
    conn: Connection,
    state: dict[str, Any],
    *,
    started_at: datetime,
    as_of: datetime,
    full: bool,
    job_run_id: int | None,
) -> None:
    """Remember this run, in the run's transaction: it counts only if the run commits."""
    row = {
        "id": ROW_ID,
        **state,
        "started_at": started_at,
        "as_of": as_of,
        "full_run": full,
        "job_run_id": job_run_id,
    }
    upsert_rows(conn, STATE, [row])
