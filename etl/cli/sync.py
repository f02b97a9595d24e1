"""`etl sync [--full]` and `etl backfill [--since DATE] [--until DATE]`."""

from __future__ import annotations

import json
from datetime import date, datetime

import typer

from etl.cli.app import app, container
from etl.errors import UsageError


def _date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise UsageError(f"{option}: {value!r} is not a date (expected YYYY-MM-DD)") from None


def _run(
    *,
    full: bool = False,
    backfill: bool = False,
    since: date | None = None,
    until: date | None = None,
    workers: int,
    processes: int | None,
    rate_limit: float | None,
    no_rate_limit: bool,
    wait: float,
    progress: bool | None,
    recompute: bool,
) -> None:
    from etl.sync.runner import SyncOptions, default_processes
    from jobs.sync import sync_then_recompute

    if workers < 1:
        raise UsageError("--workers must be at least 1")
    if processes is not None and processes < 0:
        raise UsageError("--processes must be 0 or more")
    if rate_limit is not None and rate_limit <= 0:
        raise UsageError("--rate-limit must be a positive number of requests per second")
    c = container()
    from sqlalchemy import inspect

    from etl.db.engine import probe_database
    from etl.errors import EtlError

    probe_database(c.engine)
    if not inspect(c.engine).has_table("sync_cursors"):
        raise EtlError("the database has no schema yet: run `etl init-db` first")
    client = c.stripe  # a missing key fails here, before anything is written
    summary = sync_then_recompute(
        c.engine,
        client,
        c.settings,
        SyncOptions(
            full=full,
            backfill=backfill,
            since=since,
            until=until,
            workers=workers,
            processes=default_processes() if processes is None else processes,
            rate_limit=rate_limit,
            unlimited=no_rate_limit,
            progress=progress,
            lock_wait_s=wait,
        ),
        recompute=recompute,
    )
    typer.echo(json.dumps(summary.as_json(), sort_keys=False))


_WORKERS = typer.Option(8, "--workers", help="Concurrent fetching threads.")
_PROCESSES = typer.Option(
    None,
    "--processes",
    help="Worker processes that parse and normalize the pages of a large full load "
    "(default: 2, or 1 on a single core; 0: the fetching threads do it).",
)
_RATE = typer.Option(
    None,
    "--rate-limit",
    help="Requests per second (default: ETL_STRIPE_RATE_LIMIT, else 25 for test keys, 100 for live keys).",
)
_NO_RATE = typer.Option(False, "--no-rate-limit", help="No client-side rate limit (test servers).")
_WAIT = typer.Option(
    0.0, "--wait", help="Seconds to wait for another running sync before giving up (exit 1)."
)
_PROGRESS = typer.Option(
    None, "--progress/--no-progress", help="Progress bars (default: on a terminal)."
)


@app.command("sync")
def sync_command(
    *,
    full: bool = typer.Option(
        False, "--full", help="Reload everything instead of applying events."
    ),
    workers: int = _WORKERS,
    processes: int | None = _PROCESSES,
    rate_limit: float | None = _RATE,
    no_rate_limit: bool = _NO_RATE,
    wait: float = _WAIT,
    progress: bool | None = _PROGRESS,
    recompute: bool = typer.Option(
        True, "--recompute/--no-recompute", help="Recompute the metrics that changed."
    ),
) -> None:
    """Bring the database up to date with Stripe (first run = full load), then recompute."""
    _run(
        full=full,
        workers=workers,
        processes=processes,
        rate_limit=rate_limit,
        no_rate_limit=no_rate_limit,
        wait=wait,
        progress=progress,
        recompute=recompute,
    )


@app.command("backfill")
def backfill_command(
    *,
    since: str | None = typer.Option(None, "--since", help="First day to load (YYYY-MM-DD)."),
    until: str | None = typer.Option(None, "--until", help="Day to stop before (YYYY-MM-DD)."),
    workers: int = _WORKERS,
    processes: int | None = _PROCESSES,
    rate_limit: float | None = _RATE,
    no_rate_limit: bool = _NO_RATE,
    wait: float = _WAIT,
    progress: bool | None = _PROGRESS,
) -> None:
    """One-off full load of the objects created in a date range of Stripe history."""
    s, u = _date(since, "--since"), _date(until, "--until")
    if s and u and s >= u:
        raise UsageError("--since must be before --until")
    _run(
        backfill=True,
        since=s,
        until=u,
        workers=workers,
        processes=processes,
        rate_limit=rate_limit,
        no_rate_limit=no_rate_limit,
        wait=wait,
        progress=progress,
        recompute=False,
    )
