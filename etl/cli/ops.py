"""Operations commands: daemon, run-job, schedule, status, chart, demo."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from etl.cli.app import app, container
from etl.clock import utcnow
from etl.errors import UsageError


@app.command("daemon")
def daemon_cmd(
    serve: bool = typer.Option(False, "--serve", help="Also serve the HTTP API in this process."),
    host: str = typer.Option("127.0.0.1", "--host", help="API address (with --serve)."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="API port (with --serve)."),
    initial_sync: bool = typer.Option(
        True,
        "--initial-sync/--no-initial-sync",
        help="Run the sync entry at start instead of waiting for its first slot.",
    ),
) -> None:
    """Run the scheduled jobs (sync + recompute hourly, reconcile nightly, prune weekly) until stopped.

    Every run is recorded in job_runs (see `etl status`). SIGTERM or Ctrl-C stops it
    cleanly. Schedules: ETL_SYNC_CRON, ETL_RECONCILE_CRON, ETL_PRUNE_CRON (UTC).
    """
    from etl.db.schema import init_db
    from jobs.daemon import Daemon

    c = container()
    daemon = Daemon(c, serve=serve, host=host, port=port, initial_sync=initial_sync)
    init_db(c.engine)  # a fresh volume gets its schema; an existing one is upgraded
    raise typer.Exit(daemon.run())


@app.command("run-job")
def run_job_cmd(
    name: str = typer.Argument(
        ..., help="A schedule entry (sync, reconcile, prune) or one job (…, recompute)."
    ),
    only: bool = typer.Option(
        False, "--only", help="Run just this job, not the ones that follow it in the schedule."
    ),
    trigger: str = typer.Option("cli", "--trigger", help="Recorded in job_runs: cli or cron."),
    full: bool = typer.Option(False, "--full", help="sync: a full load instead of incremental."),
) -> None:
    """Run a job now, as the daemon would (recorded, retried). Used by cron lines.

    Exit code 1 when a job failed; a sync skipped because another one holds the lock
    exits 0.
    """
    from jobs.runner import JOB_MODULES, JobContext, run_entry, run_job
    from jobs.schedule import entry, schedule

    if trigger not in ("cli", "cron", "daemon"):
        raise UsageError(f"--trigger must be cli or cron, not {trigger!r}")
    c = container()
    names = [e.name for e in schedule(c.settings)]
    if name not in names and name not in JOB_MODULES:
        known = ", ".join(sorted({*names, *JOB_MODULES}))
        raise UsageError(f"unknown job {name!r} (known: {known})")
    from etl.db.schema import init_db

    init_db(c.engine)
    ctx = JobContext(trigger=trigger, progress=_is_tty(), options={"full": full})
    if name in names and not only:
        results = run_entry(c, entry(c.settings, name), ctx)
    else:
        results = [run_job(c, name, ctx)]
    for r in results:
        line = f"{r.job}: {r.status} in {r.duration_s:.1f}s"
        if r.attempts > 1:
            line += f" after {r.attempts} attempts"
        if r.error:
            line += f" — {r.error}"
        typer.echo(line)
    if any(r.status == "failed" for r in results):
        raise typer.Exit(1)


@app.command("schedule")
def schedule_cmd(
    crontab: bool = typer.Option(False, "--crontab", help="Print crontab lines instead."),
    etl_path: str = typer.Option("etl", "--etl", help="Path of the etl command in crontab lines."),
    workdir: str | None = typer.Option(
        None, "--workdir", help="Directory to cd into first (where .env lives)."
    ),
    log: str | None = typer.Option(None, "--log", help="File the crontab lines append output to."),
) -> None:
    """Show the schedule the daemon runs (or the same schedule as crontab lines)."""
    from jobs import schedule as sched

    c = container()
    if crontab:
        typer.echo(sched.crontab(c.settings, etl=etl_path, workdir=workdir, log=log), nl=False)
        return
    for e in sched.schedule(c.settings):
        typer.echo(f"{e.name:<10} {e.cron:<16} {' → '.join(e.jobs):<22} {e.description}")


_UNLIMITED_WIDTH = 100_000


def _stdout_is_tty() -> bool:
    import sys

    return sys.stdout.isatty()


def _is_tty() -> bool:
    import sys

    return sys.stderr.isatty()


@app.command("status")
def status_cmd(
    as_json: bool = typer.Option(False, "--json", help="Print the status as one JSON object."),
) -> None:
    """Last sync and recompute, every job's last run, row counts and current MRR."""
    from rich.console import Console
    from rich.table import Table

    from etl.report import status as report

    st = report.read_status(container().engine)
    if as_json:
        typer.echo(json.dumps(st, indent=2, sort_keys=False))
        return
    now = utcnow()
    # Off a terminal (a pipe, a cron log) no width applies: cells are printed whole
    # instead of cut to 80 columns ("objects=2,93…").
    con = Console(highlight=False, width=None if _stdout_is_tty() else _UNLIMITED_WIDTH)
    con.print(f"[bold]Database[/bold] {st['database']}")
    con.print(
        f"[bold]Last successful sync[/bold]      {report.ago(st['last_successful_sync'], now)}"
    )
    con.print(
        f"[bold]Last successful recompute[/bold] {report.ago(st['last_successful_recompute'], now)}"
    )
    rows = report.job_rows(st)
    if rows:
        t = Table(title="Jobs", title_justify="left")
        for col in report.JOB_COLUMNS:
            t.add_column(col)
        for job, started, status, *rest in rows:
            style = _STATUS_STYLE.get(status)
            t.add_row(job, started, f"[{style}]{status}[/{style}]" if style else status, *rest)
        con.print(t)
    else:
        con.print("No job has run yet (`etl run-job sync` or `etl daemon`).")
    sync_run = report.sync_run_text(st)
    if sync_run:
        con.print(f"[bold]Last sync run[/bold] {sync_run}")
    con.print(f"[bold]Rows[/bold] {report.rows_text(st)}")
    mrr = report.mrr_lines(st)
    if mrr:
        con.print(f"[bold]MRR[/bold] for {st['current_mrr'][0]['month'][:7]}:")
        for line in mrr:
            con.print(f"  {line}")
    else:
        con.print("[bold]MRR[/bold] not computed yet.")


_STATUS_STYLE = {"ok": "green", "failed": "red", "skipped": "yellow"}


@app.command("chart")
def chart_cmd(
    out: Path | None = typer.Option(
        None, "--out", help="Directory (default: next to the SQLite database, else here)."
    ),
    currency: str | None = typer.Option(None, "--currency", help="A native currency series."),
) -> None:
    """Write the MRR chart as mrr.png and mrr.html (the page the API serves at /chart)."""
    from etl.currency import currency_shape
    from etl.report.chart import chart_directory, write_chart_files

    if currency is not None:
        try:
            currency = currency_shape(currency)
        except ValueError as exc:
            raise UsageError(f"--currency: {exc}") from None
    c = container()
    files = write_chart_files(c.engine, out or chart_directory(c.settings), currency=currency)
    if files is None:
        raise UsageError(
            "no MRR to draw" + (f" in {currency}" if currency else "") + ": run `etl sync` first"
        )
    typer.echo(f"Wrote {files.png} and {files.html}")


@app.command("demo")
def demo_cmd(
    *,
    no_serve: bool = typer.Option(False, "--no-serve", help="Stop after the table and the chart."),
    db: Path | None = typer.Option(
        None, "--db", help="SQLite file of the demo (default ./etl-demo.db, rebuilt each run)."
    ),
    customers: int = typer.Option(300, "--customers", min=1, help="Customers to generate."),
    months: int = typer.Option(24, "--months", min=1, max=120, help="Months of history."),
    seed: int = typer.Option(42, "--seed", help="The same seed gives the same account."),
    host: str = typer.Option("127.0.0.1", "--host", help="API address."),
    port: int = typer.Option(8000, "--port", min=0, max=65535, help="API port (0: any free one)."),
) -> None:
    """The whole pipeline on a generated account, no Stripe key needed.

    Generates an account, serves it as a local Stripe, syncs, recomputes, prints the MRR
    table, writes the MRR picture next to the database, then serves the API (unless
    --no-serve).
    """
    import sys

    from rich.console import Console

    from jobs.demo import DEFAULT_DB, DemoOptions, run_demo

    # Off a terminal (a pipe, a test), a fixed width keeps the table's columns whole.
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
    opts = DemoOptions(
        db=db if db is not None else Path(DEFAULT_DB),
        db_given=db is not None,
        customers=customers,
        months=months,
        seed=seed,
        serve=not no_serve,
        host=host,
        port=port,
    )
    run_demo(opts, console)
