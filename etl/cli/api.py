"""`etl serve` and `etl api-key create|list|revoke`."""

from __future__ import annotations

from pathlib import Path

import typer
from sqlalchemy import inspect

from etl.api.serve import ensure_port_free, is_loopback
from etl.cli.app import app, container
from etl.db.engine import probe_database
from etl.errors import EtlError, UsageError

api_key_app = typer.Typer(help="Manage HTTP API keys (only their hashes are stored).")
app.add_typer(api_key_app, name="api-key")


def _require_schema() -> None:
    c = container()
    probe_database(c.engine)  # an unreachable database: one line naming DATABASE_URL
    if not inspect(c.engine).has_table("api_keys"):
        raise EtlError("the database has no schema yet: run `etl init-db` first")


@app.command("serve")
def serve_cmd(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to bind."),
    ssl_certfile: Path | None = typer.Option(None, "--ssl-certfile", help="TLS certificate (PEM)."),
    ssl_keyfile: Path | None = typer.Option(None, "--ssl-keyfile", help="TLS private key (PEM)."),
) -> None:
    """Serve the HTTP API (FirstOfficer V2 compatible) with one uvicorn worker."""
    import uvicorn

    from etl.api.app import create_app
    from etl.logs import get_logger

    if (ssl_certfile is None) != (ssl_keyfile is None):
        raise UsageError("--ssl-certfile and --ssl-keyfile go together: give both or neither")
    for opt, path in (("--ssl-certfile", ssl_certfile), ("--ssl-keyfile", ssl_keyfile)):
        if path is not None and not path.is_file():
            raise UsageError(f"{opt}: no such file: {path}")
    c = container()
    _require_schema()
    ensure_port_free(host, port)
    require_https = c.settings.require_https
    if require_https is None:
        require_https = not is_loopback(host)
    tls = ssl_certfile is not None
    application = create_app(c, require_https=require_https)
    get_logger("etl.serve").info(
        "api.serve",
        host=host,
        port=port,
        tls=tls,
        require_https=require_https,
    )
    scheme = "https" if tls else "http"
    typer.echo(f"Serving the API on {scheme}://{host}:{port}/v2 (docs: /v2/docs)", err=True)
    uvicorn.run(
        application,
        host=host,
        port=port,
        ssl_certfile=str(ssl_certfile) if ssl_certfile else None,
        ssl_keyfile=str(ssl_keyfile) if ssl_keyfile else None,
        access_log=False,  # our middleware writes one structured line per request
        log_level="warning",
        proxy_headers=True,
    )


@api_key_app.command("create")
def create_cmd(
    name: str | None = typer.Option(None, "--name", help="A label to recognise the key by."),
) -> None:
    """Create a key and print it once; only its SHA-256 hash is stored."""
    from etl.api.keys import create_key

    _require_schema()
    with container().engine.begin() as conn:
        info, key = create_key(conn, name)
    typer.echo(f"Created API key {info.id}{f' ({name})' if name else ''}.", err=True)
    typer.echo("Store it now: it cannot be shown again.", err=True)
    typer.echo(key)


@api_key_app.command("list")
def list_cmd() -> None:
    """List keys: id, name, prefix, creation, last use, status."""
    from etl.api.keys import list_keys

    _require_schema()
    with container().engine.connect() as conn:
        keys = list_keys(conn)
    if not keys:
        typer.echo("No API keys. Create one with `etl api-key create --name NAME`.")
        return
    typer.echo(f"{'id':<22} {'prefix':<15} {'created':<20} {'last used':<20} {'status':<8} name")
    for k in keys:
        created = k.created_at.strftime("%Y-%m-%d %H:%M:%S")
        used = k.last_used_at.strftime("%Y-%m-%d %H:%M:%S") if k.last_used_at else "never"
        status = "active" if k.active else "revoked"
        typer.echo(
            f"{k.id:<22} {k.prefix + '…':<15} {created:<20} {used:<20} {status:<8} {k.name or ''}"
        )


@api_key_app.command("revoke")
def revoke_cmd(
    key_id: str = typer.Argument(..., help="The key's id, as `etl api-key list` shows it."),
) -> None:
    """Revoke a key: requests with it are refused (within 2 seconds on a running server)."""
    from etl.api.keys import revoke_key

    _require_schema()
    with container().engine.begin() as conn:
        info = revoke_key(conn, key_id)
    if info is None:
        raise UsageError(f"no API key with id {key_id!r} (see `etl api-key list`)")
    typer.echo(f"Revoked API key {info.id}.")
