"""The Typer application and the per-process container that commands share."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

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
