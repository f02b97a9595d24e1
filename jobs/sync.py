"""The sync as users run it: Stripe into the tables, the revenue lines, then the metrics.

`etl.sync` loads Stripe; the revenue lines and the recompute are later stages, so they
are chained here, above the stages (the command line and the schedule call this). The
scheduled `sync` entry runs the recompute as a job of its own (`recompute=False`).
The sync layer takes the sync lock itself; when another sync holds it (an overlapping
cron line, a manual `etl sync`), a scheduled run is recorded as skipped.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from etl.logs import get_logger
from jobs.runner import JobContext, JobSkipped, counts_of

if TYPE_CHECKING:
    import stripe
    from sqlalchemy import Engine

    from etl.bootstrap import Container
    from etl.config import Settings
    from etl.sync.runner import SyncOptions, SyncSummary

log = get_logger("etl.sync")


def sync_then_recompute(
    engine: Engine,
    client: stripe.StripeClient,
    settings: Settings,
    options: SyncOptions | None = None,
    *,
    recompute: bool = True,
) -> SyncSummary:
    """One sync run with the revenue lines kept current, then (optionally) the recompute
    of what changed; logs the run's one summary line."""
    from etl.metrics.recompute import recompute as recompute_metrics
    from etl.metrics.revenue import refresh_revenue_lines
    from etl.sync.runner import run_sync

    summary = run_sync(engine, client, settings, options, derive=refresh_revenue_lines)
    if not recompute:
        summary.metrics = "skipped"
    elif not summary.touched_invoices and summary.objects == 0:
        summary.metrics = "unchanged"
    else:
        t0 = time.monotonic()
        recompute_metrics(engine, settings)
        summary.metrics = f"recomputed in {time.monotonic() - t0:.2f}s"
    log.info("sync_summary", **{k: v for k, v in summary.as_json().items() if k != "event"})
    return summary


def sync_once(container: Container, ctx: JobContext, *, full: bool = False) -> dict[str, Any]:
    from etl.sync.lock import LockBusyError
    from etl.sync.runner import SyncOptions

    options = SyncOptions(full=full, progress=ctx.progress)
    try:
        summary = sync_then_recompute(
            container.engine, container.stripe, container.settings, options, recompute=False
        )
    except LockBusyError as exc:
        raise JobSkipped(str(exc)) from exc
    report = summary.as_json()
    report.pop("event", None)
    report.pop("malformed_ids", None)
    return counts_of(report)


def run(container: Container, ctx: JobContext) -> dict[str, Any]:
    return sync_once(container, ctx, full=bool(ctx.options.get("full", False)))
