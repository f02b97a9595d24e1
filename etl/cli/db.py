"""Schema commands."""

from __future__ import annotations

import time

import typer

from etl.cli.app import app, container
from etl.logs import get_logger


@app.command("init-db")
def init_db_cmd() -> None:
    """Create or upgrade the schema (runs the migrations it lacks). Safe to run again."""
    from etl.db.schema import init_db

    c = container()
    started = time.monotonic()
    report = init_db(c.engine)
    get_logger("etl.init_db").info(
        "init_db",
        database=c.settings.db_url.render_as_string(hide_password=True),
        created_tables=len(report.created_tables),
        added_columns=len(report.added_columns),
        views=len(report.views),
        migrations=report.migrations,
        revision=report.revision,
        duration_s=round(time.monotonic() - started, 3),
    )
    if report.changed:
        parts = []
        if report.created_tables:
            parts.append(f"created {len(report.created_tables)} tables")
        if report.added_columns:
            parts.append(f"added {len(report.added_columns)} columns")
        if report.migrations:
            parts.append(f"applied {len(report.migrations)} migrations")
        typer.echo(f"Schema upgraded: {', '.join(parts)}.")
    else:
        typer.echo("Schema is up to date.")
