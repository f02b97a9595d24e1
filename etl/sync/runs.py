"""The run's own row in `sync_runs`: started, finished (with its counts or error), or
forgotten when it never got past a refused key.

`etl status` and the jobs read these rows; a run left `running` by a process that died
is marked interrupted by the next one, which holds the sync lock by then.
"""

from __future__ import annotations

import json

from sqlalchemy import Engine, delete, update

from etl.clock import utcnow
from etl.db import tables
from etl.sync.context import SyncContext


def start_run(engine: Engine, kind: str) -> int:
    """A new `running` row; returns its id."""
    now = utcnow()
    with engine.begin() as conn:
        # Runs left "running" by a process that died: the lock is ours now.
        conn.execute(
            update(tables.sync_runs)
            .where(tables.sync_runs.c.status == "running")
            .values(status="interrupted", finished_at=now)
        )
        run_id = conn.execute(  # type: ignore[index]
            tables.sync_runs.insert().values(
                kind=kind,
                status="running",
                started_at=now,
                objects=0,
                requests=0,
                retries=0,
                malformed=0,
            )
        ).inserted_primary_key[0]
    return int(run_id)


def finish_run(ctx: SyncContext, status: str, error: str | None = None) -> None:
    """The summary takes the request counters; the row takes the summary."""
    s = ctx.summary
    s.status = status
    s.requests = ctx.api.requests
    s.retries = ctx.api.retries
    s.rate_limited = ctx.api.rate_limited
    if s.run_id is None:
        return
    with ctx.engine.begin() as conn:
        conn.execute(
            update(tables.sync_runs)
            .where(tables.sync_runs.c.id == s.run_id)
            .values(
                kind=s.kind,
                status=status,
                finished_at=utcnow(),
                objects=s.objects,
                requests=s.requests,
                retries=s.retries,
                malformed=s.malformed,
                counts_json=json.dumps(dict(sorted(s.counts.items()))),
                error=error,
            )
        )


def forget_run_if_empty(ctx: SyncContext) -> None:
    """A run refused at its first request leaves no row; one that wrote is failed."""
    if ctx.summary.run_id is None:
        return
    if ctx.summary.objects:
        finish_run(ctx, "failed", "authentication failed")
        return
    with ctx.engine.begin() as conn:
        conn.execute(delete(tables.sync_runs).where(tables.sync_runs.c.id == ctx.summary.run_id))
