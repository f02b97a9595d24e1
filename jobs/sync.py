"""The hourly job: bring the database up to date with Stripe (incremental after a first full load).

The sync layer (etl.sync.runner) takes the sync lock itself; when another sync holds it
(an overlapping cron line, a manual `etl sync`), this run is recorded as skipped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jobs.runner import JobContext, JobSkipped, counts_of

if TYPE_CHECKING:
    from etl.bootstrap import Container


def sync_once(container: Container, ctx: JobContext, *, full: bool = False) -> dict[str, Any]:
    from etl.sync.lock import LockBusy
    from etl.sync.runner import SyncOptions, run_sync

    options = SyncOptions(
        full=full,
        progress=ctx.progress,
        # The schedule runs the recompute right after, as its own recorded job.
        recompute=False,
    )
    try:
        summary = run_sync(container.engine, container.stripe, container.settings, options)
    except LockBusy as exc:
        raise JobSkipped(str(exc)) from exc
    report = summary.as_json()
    report.pop("event", None)
    report.pop("malformed_ids", None)
    return counts_of(report)


def run(container: Container, ctx: JobContext) -> dict[str, Any]:
    return sync_once(container, ctx, full=bool(ctx.options.get("full", False)))
