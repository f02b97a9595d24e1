"""`etl sandbox serve` and `etl sandbox truth`: a generated Stripe account, served or checked."""

from __future__ import annotations

import errno
import json
import signal
import sys
import threading
from datetime import UTC, date, datetime
from datetime import time as dt_time
from typing import TYPE_CHECKING, Any

import typer

from etl.cli.app import app
from etl.clock import utcnow
from etl.errors import EtlError, UsageError

if TYPE_CHECKING:
    from etl.sandbox.simulation.generator import Account

sandbox_app = typer.Typer(
    name="sandbox",
    help="A generated Stripe account served over Stripe's HTTP API, and its ground truth.",
    no_args_is_help=True,
)
app.add_typer(sandbox_app, name="sandbox")

EXAMPLE_KEY = "sk_test_sandbox"

_CUSTOMERS = typer.Option(200, "--customers", help="Number of customers to generate.")
_MONTHS = typer.Option(24, "--months", help="Months of history before the end date.")
_SEED = typer.Option(1, "--seed", help="Seed: the same seed gives the same account.")
_END = typer.Option(
    None,
    "--end",
    help="End of the history (the account's clock), YYYY-MM-DD at 00:00 UTC; "
    "default: today (00:00 UTC), the day a sync and a recompute run; pass a date "
    "for runs that are reproducible on any day.",
)
_QUIET_DAYS = typer.Option(
    0,
    "--quiet-days",
    help="A dormant account: no activity (so no event) in the last N days before the end.",
)


def _parse_date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{option} {value!r} is not a date (expected YYYY-MM-DD)") from None


def _generate(
    customers: int, months: int, seed: int, end: str | None, quiet_days: int = 0
) -> Account:
    if customers < 1:
        raise UsageError("--customers must be at least 1")
    if months < 1:
        raise UsageError("--months must be at least 1")
    if quiet_days < 0 or quiet_days >= months * 28:
        raise UsageError("--quiet-days must be at least 0 and shorter than the --months")
    from etl.sandbox.simulation.generator import generate_account

    # Today by default: an account that ended on a fixed past date would look, to a
    # recompute that runs at today's date, as if every subscription had stopped paying.
    end_date = _parse_date(end, "--end") or utcnow().date()
    end_at = datetime.combine(end_date, dt_time(0), UTC)
    return generate_account(
        seed=seed, customers=customers, months=months, end=end_at, quiet_days=quiet_days
    )


@sandbox_app.command("serve")
def serve(
    *,
    port: int = typer.Option(12111, "--port", help="TCP port on 127.0.0.1 (0: any free port)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind."),
    customers: int = _CUSTOMERS,
    months: int = _MONTHS,
    seed: int = _SEED,
    end: str | None = _END,
    quiet_days: int = _QUIET_DAYS,
    api_shapes: str = typer.Option(
        "current", "--api-shapes", help="current, or legacy (API versions before 2025-03-31)."
    ),
    rate_limit: float | None = typer.Option(
        None, "--rate-limit", help="Requests per second before answering 429 (default: none)."
    ),
    fault_rate: float = typer.Option(
        0.0, "--fault-rate", help="Share of requests that fail at random (500, 503, drop, slow)."
    ),
    fault_seed: int = typer.Option(0, "--fault-seed", help="Seed of the injected faults."),
) -> None:
    """Serve a generated account as a Stripe-compatible API until Ctrl-C or SIGTERM."""
    from etl.sandbox.server.app import SandboxServer
    from etl.sandbox.server.shapes import API_SHAPES

    if api_shapes not in API_SHAPES:
        raise UsageError(f"--api-shapes must be one of: {', '.join(API_SHAPES)}")
    if rate_limit is not None and rate_limit <= 0:
        raise UsageError("--rate-limit must be a positive number of requests per second")
    if not 0.0 <= fault_rate <= 1.0:
        raise UsageError("--fault-rate must be between 0 and 1")
    if not 0 <= port <= 65535:
        raise UsageError("--port must be between 0 and 65535")
    account = _generate(customers, months, seed, end, quiet_days)
    server = SandboxServer(
        account,
        api_shapes=api_shapes,
        rate_limit=rate_limit,
        fault_rate=fault_rate,
        fault_seed=fault_seed,
    )
    try:
        base_url = server.start(host=host, port=port)
    except OSError as exc:
        # As `etl serve` says it (etl.api.serve.ensure_port_free): exit 1, the value is valid.
        busy = exc.errno == errno.EADDRINUSE
        problem = "the port is already in use by another process" if busy else exc.strerror
        raise EtlError(f"cannot serve on {host}:{port}: {problem or exc}") from None
    counts = {name: len(objs) for name, objs in account.objects.items()}
    clock = datetime.fromtimestamp(account.now, UTC)
    typer.echo(f"Stripe sandbox at {base_url} (api shapes: {api_shapes}, seed {seed})")
    typer.echo(f"  clock at {clock:%Y-%m-%d %H:%M} UTC (the end of its history; --end to change)")
    typer.echo("  " + ", ".join(f"{n} {name}" for name, n in counts.items()))
    typer.echo(f"STRIPE_API_BASE={base_url} STRIPE_API_KEY={EXAMPLE_KEY} etl sync")
    typer.echo(
        f"Move the clock: curl -X POST -u {EXAMPLE_KEY}: '{base_url}/v1/test_helpers/advance?days=30'"
    )
    typer.echo(f"Request counters: curl {base_url}/_sandbox/stats")
    typer.echo("Serving until Ctrl-C.", err=True)
    sys.stdout.flush()  # scripts read the base URL from a pipe while we serve
    _wait_for_signal()
    server.stop()


def _wait_for_signal() -> None:
    stop = threading.Event()

    def on_signal(_signum: int, _frame: Any) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@sandbox_app.command("truth")
def truth(
    *,
    customers: int = _CUSTOMERS,
    months: int = _MONTHS,
    seed: int = _SEED,
    end: str | None = _END,
    quiet_days: int = _QUIET_DAYS,
    as_of: str | None = typer.Option(
        None, "--as-of", help="Date the truth is computed for, YYYY-MM-DD (default: the clock)."
    ),
    timezone: str = typer.Option("UTC", "--timezone", help="IANA time zone of month boundaries."),
) -> None:
    """Print the generated account's ground truth (expected MRR and movements) as JSON."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"--timezone {timezone!r} is not an IANA time zone") from None
    as_of_date = _parse_date(as_of, "--as-of")
    account = _generate(customers, months, seed, end, quiet_days)
    from etl.sandbox.simulation.truth import ground_truth

    # truth reads a date as the end of that day in the time zone
    result = ground_truth(account, as_of=as_of_date, timezone=timezone).to_json()  # type: ignore[arg-type]
    typer.echo(result if isinstance(result, str) else json.dumps(result, indent=2, sort_keys=True))
