"""Command line: `etl …` and `python -m etl …`.

Each module below registers its commands on the shared Typer app; `main` turns
known errors into one clear line and the exit codes of the interface contract:
0 success, 1 failure of the work, 2 bad usage or configuration.
"""

from __future__ import annotations

import sys

from etl.cli import db  # noqa: F401  (registers commands)
from etl.cli.app import app, explain_failure, reset_container
from etl.errors import EtlError


def _register_optional() -> None:
    # Command groups of later layers; each module registers on import.
    import importlib

    for name in ("sandbox", "sync", "metrics", "api", "ops"):
        try:
            importlib.import_module(f"etl.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"etl.cli.{name}":
                raise


_register_optional()


def main(argv: list[str] | None = None) -> int:
    try:
        app(args=argv, prog_name="etl", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except EtlError as exc:
        print(f"etl: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("etl: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        explained = explain_failure(exc)
        if explained is None:
            raise
        print(f"etl: error: {explained}", file=sys.stderr)
        return explained.exit_code
    finally:
        reset_container()
    return 0


def run() -> None:
    sys.exit(main())
