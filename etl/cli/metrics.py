"""Metric commands: `etl recompute`, `etl import-invoices FILE`, `etl fx load FILE`."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import typer

from etl.cli.app import app, container
from etl.clock import utcnow
from etl.errors import EtlError, UsageError

fx_app = typer.Typer(help="Exchange rates for reporting-currency totals.", no_args_is_help=True)
app.add_typer(fx_app, name="fx")


def parse_as_of(value: str, timezone: str) -> datetime:
    """`--as-of`: an ISO datetime (naive = UTC), or a date meaning the end of that day in
    ETL_TIMEZONE (so `--as-of 2024-05-31` includes everything paid on May 31)."""
    v = value.strip()
    try:
        if len(v) == 10:
            d = date.fromisoformat(v)
            local = datetime.combine(d + timedelta(days=1), time(0), tzinfo=ZoneInfo(timezone))
            dt = (local - timedelta(seconds=1)).astimezone(UTC).replace(tzinfo=None)
        else:
            dt = datetime.fromisoformat(v[:-1] + "+00:00" if v.endswith("Z") else v)
    except ValueError:
        raise UsageError(
            f"--as-of {value!r} is not a date (2024-05-31) or ISO datetime (2024-05-31T12:00:00Z)"
        ) from None
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    if not 1990 <= dt.year <= 2099:
        raise UsageError(f"--as-of {value!r} is outside the years 1990–2099")
    return dt


@app.command("recompute")
def recompute_cmd(
    as_of: str | None = typer.Option(
        None, "--as-of", help="Fix 'now': a date (end of that day) or an ISO datetime."
    ),
    full: bool = typer.Option(
        False, "--full", help="Recompute every customer, not only changed ones."
    ),
) -> None:
    """Rebuild MRR, movements, MRR by plan and customer snapshots."""
    from etl.metrics.recompute import recompute

    c = container()
    when = parse_as_of(as_of, c.settings.timezone) if as_of else None
    report = recompute(c.engine, c.settings, as_of=when, full=full)
    typer.echo(report.summary())


@app.command("import-invoices")
def import_invoices_cmd(
    file: Path = typer.Argument(..., help="CSV with a header line, or a JSON list of objects."),
    recompute_after: bool = typer.Option(
        True, "--recompute/--no-recompute", help="Recompute the metrics after importing."
    ),
) -> None:
    """Import invoices billed outside Stripe (fields of the API's invoice object).

    The whole file is validated first: if any row is invalid nothing is imported and
    every problem is listed with its line number. A row whose id was imported before
    with the same content is skipped (and reported), with other content it is an error:
    the same file, or the file with rows appended, can be imported again.
    """
    from etl.imports.files import MAX_LISTED, InvoiceFileError, read_invoice_file
    from etl.imports.invoices import (
        create_manual_invoices,
        validate_invoice_input,
    )
    from etl.imports.repeats import split_repeats
    from etl.metrics.revenue import refresh_revenue_lines

    try:
        rows, lines = read_invoice_file(file)
    except InvoiceFileError as exc:
        for problem in exc.problems[:MAX_LISTED]:
            typer.echo(f"{file}: {problem}", err=True)
        if len(exc.problems) > MAX_LISTED:
            typer.echo(f"{file}: …and {len(exc.problems) - MAX_LISTED} more", err=True)
        raise
    c = container()
    now = utcnow()
    with c.engine.begin() as conn:
        valid, errors = validate_invoice_input(
            conn, c.settings, rows, now=now, lines=lines, repeats_allowed=True
        )
        repeats = split_repeats(conn, valid, rows, lines)
        errors = sorted([*errors, *repeats.errors], key=lambda e: e.line)
        if errors:
            for e in errors:
                typer.echo(f"{file}: line {e.line}: {e.param}: {e.message}", err=True)
            bad = len({e.line for e in errors})
            raise EtlError(f"{bad} of {len(rows)} rows are invalid; nothing was imported")
        created = create_manual_invoices(
            conn, c.settings, repeats.new, now=now, derive=refresh_revenue_lines
        )
    if repeats.unchanged:
        shown = ", ".join(repeats.unchanged[:5]) + (", …" if len(repeats.unchanged) > 5 else "")
        typer.echo(
            f"Skipped {len(repeats.unchanged)} invoices imported before with the same "
            f"content ({shown}).",
            err=True,
        )
    typer.echo(f"Imported {len(created)} invoices from {file}.")
    if recompute_after and created:
        from etl.metrics.recompute import recompute

        typer.echo(recompute(c.engine, c.settings).summary())


@fx_app.command("load")
def fx_load_cmd(
    file: Path = typer.Argument(..., help="CSV with columns currency,month,rate."),
) -> None:
    """Load exchange rates: 1 unit of `currency` = `rate` units of ETL_REPORTING_CURRENCY in `month`.

    The whole file is checked first; nothing is written if any line is bad. Rates already
    stored for the same currency and month are replaced. Run `etl recompute` afterwards.
    """
    from etl.imports.files import decode_utf8
    from etl.imports.fx import load_fx_rates, parse_fx_csv

    content = decode_utf8(file)
    c = container()
    rows = parse_fx_csv(content, c.settings.reporting_currency)
    with c.engine.begin() as conn:
        n = load_fx_rates(conn, rows)
    currencies = sorted({r["currency"] for r in rows})
    typer.echo(f"Loaded {n} exchange rates for {', '.join(currencies)}.")
