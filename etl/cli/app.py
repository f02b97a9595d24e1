"""The Typer application and the per-process container that commands share."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from etl.config import ConfigError
from etl.errors import EtlError, UsageError

if TYPE_CHECKING:
    from etl.bootstrap import Container

app = typer.Typer(
    name="etl",
    help="Stripe-to-metrics pipeline: sync Stripe into SQL, compute MRR, serve a FirstOfficer-compatible API.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_container: Container | None = None


def container() -> Container:
    """The composition root, built on first use by a command (never at import)."""
    # One process-wide root, cached lazily; tests read `_container` to check import is cheap.
    global _container  # noqa: PLW0603
    if _container is None:
        from etl.bootstrap import bootstrap

        _container = bootstrap()
    return _container


def reset_container() -> None:
    global _container  # noqa: PLW0603 - the same process-wide root as in container()
    if _container is not None:
        _container.close()
    _container = None


def explain_failure(exc: BaseException) -> EtlError | None:  # noqa: PLR0911 - one return per kind of failure
    """The one mapping of the errors commands do not catch to one line and an exit code:
    a database that cannot be reached is a ConfigError naming DATABASE_URL (exit 2, from
    etl.db.engine.probe_database), a missing schema a usage error, other database
    failures and files that cannot be written failures of the work (exit 1). None: a bug,
    whose traceback is worth showing."""
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    if isinstance(exc, DBAPIError):
        if _container is not None:
            from etl.db.engine import probe_database

            try:
                probe_database(_container.engine)
            except ConfigError as err:
                return err
        message = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else ""
        if "no such table" in message or getattr(exc.orig, "sqlstate", None) == "42P01":
            return UsageError("the database has no schema yet: run `etl init-db` first")
        if isinstance(exc, OperationalError | InterfaceError):
            return EtlError(f"the database failed: {message or type(exc.orig).__name__}")
        return None
    if isinstance(exc, FileExistsError) and exc.filename is not None:
        return EtlError(f"cannot use {exc.filename}: it exists and is not a directory")
    if isinstance(exc, OSError) and exc.filename is not None:
        return EtlError(f"cannot use {exc.filename}: {exc.strerror or exc}")
    return None


def _version(value: bool) -> None:
    if value:
        from etl import __version__

        typer.echo(f"etl {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Stripe-to-metrics pipeline. Settings come from the environment and .env (see README)."""
