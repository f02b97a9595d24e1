"""`etl demo`: the whole pipeline on a generated account, with nothing configured.

A simulated SaaS account (etl.sandbox) is served on a free local port as a Stripe API;
the real sync (through the official SDK) loads it into a SQLite file of its own, the
metrics are computed, and the results are shown: a table of the last 12 months, a PNG
and an HTML page of MRR and its movements next to the database, then the API with a
fresh key. The demo's database is its own file (etl-demo.db by default), never the one
DATABASE_URL names, so trying the demo cannot touch real data.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from etl.db import tables
from etl.errors import EtlError, UsageError

if TYPE_CHECKING:
    from rich.console import Console

    from etl.bootstrap import Container
    from etl.report.scene import Series

DEFAULT_DB = "etl-demo.db"
DEMO_KEY = "sk_test_etl_demo"
# Fixed, clearly fictitious rates so that the converted (USD) totals cover every
# currency of the generated account; the native series stay exact without them.
DEMO_RATES = {"eur": "1.08", "gbp": "1.27"}


@dataclass
class DemoOptions:
    db: Path = field(default_factory=lambda: Path(DEFAULT_DB))
    db_given: bool = False
    customers: int = 300
    months: int = 24
    seed: int = 42
    serve: bool = True
    host: str = "127.0.0.1"
    port: int = 8000


@dataclass
class DemoResult:
    db: Path
    png: Path | None
    html: Path | None
    months_shown: int
    timings: dict[str, float]
    counts: dict[str, Any]


def _prepare_db(opts: DemoOptions) -> Path:
    path = opts.db.resolve()
    if path.exists():
        if opts.db_given and path.name != DEFAULT_DB:
            raise UsageError(
                f"{path} already exists: the demo builds a fresh database; "
                "remove it or choose another --db"
            )
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _load_demo_rates(container: Container, months: int, end: datetime) -> int:
    from datetime import date

    from etl.db.upsert import upsert_rows

    rows = []
    y, m = end.year, end.month
    for _ in range(months + 2):
        for cur, rate in DEMO_RATES.items():
            rows.append({"currency": cur, "month": date(y, m, 1), "rate": rate})
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    if container.settings.reporting_currency in DEMO_RATES:
        rows = [r for r in rows if r["currency"] != container.settings.reporting_currency]
    with container.engine.begin() as conn:
        upsert_rows(conn, tables.fx_rates, rows)
    return len(rows)


def mrr_table(series: Series, months: int = 12) -> Any:
    from rich.table import Table

    from etl.report.scene import money

    cur = series.currency
    t = Table(
        title=f"{series.title} — last {min(months, len(series.points))} months",
        title_justify="left",
    )
    for col in (
        "Month",
        "MRR",
        "Waiting",
        "New",
        "Reactivation",
        "Expansion",
        "Contraction",
        "Churn",
        "Net change",
        "Customers",
    ):
        t.add_column(col, justify="left" if col == "Month" else "right")
    for p in series.points[-months:]:
        t.add_row(
            p.month.strftime("%Y-%m") + ("*" if p.is_current else ""),
            money(p.mrr, cur),
            money(p.waiting, cur) if p.is_current else "",
            money(p.new, cur),
            money(p.reactivation, cur),
            money(p.expansion, cur),
            money(-p.contraction, cur),
            money(-p.churn, cur),
            money(p.net, cur),
            str(p.customers),
        )
    if series.points and series.points[-1].is_current:
        t.caption = "* month in progress: renewals not yet paid are waiting (not in MRR, not churn)"
    return t


def run_demo(opts: DemoOptions, console: Console) -> DemoResult:
    from etl.bootstrap import bootstrap

    if opts.customers < 1 or opts.months < 1:
        raise UsageError("--customers and --months must be at least 1")
    timings: dict[str, float] = {}
    t_all = time.monotonic()
    path = _prepare_db(opts)
    # History up to today's midnight (UTC): the same account all day long, so that two
    # runs on one day show the same figures.
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    server, base_url = _serve_account(opts, end, console, timings)
    container = bootstrap(_demo_settings(path, base_url))
    try:
        sync, rec = _load(container, opts, end=end, path=path, console=console, timings=timings)
    finally:
        server.stop()
    series, files = _show(container, path, console, timings)
    timings["total_s"] = time.monotonic() - t_all
    result = DemoResult(
        db=path,
        png=files.png if files else None,
        html=files.html if files else None,
        months_shown=min(12, len(series.points)),
        timings=timings,
        counts={"sync": sync.counts, "recompute": rec.counts},
    )
    console.print(f"Done in {timings['total_s']:.1f}s.")
    if opts.serve:
        serve_demo(container, opts, console)
    else:
        console.print(
            "\nExplore it:\n"
            f"  export DATABASE_URL=sqlite:///{path}\n"
            "  etl status\n"
            "  etl api-key create --name me && etl serve   # then open http://127.0.0.1:8000/chart"
        )
    container.close()
    return result


def _serve_account(
    opts: DemoOptions, end: datetime, console: Console, timings: dict[str, float]
) -> tuple[Any, str]:
    """Steps 1 and 2: generate the account and serve it as a local Stripe (server, URL)."""
    from etl.sandbox.server.app import SandboxServer
    from etl.sandbox.simulation.generator import generate_account

    t0 = time.monotonic()
    with console.status("Generating the account…"):
        account = generate_account(
            seed=opts.seed, customers=opts.customers, months=opts.months, end=end
        )
    timings["generate_s"] = time.monotonic() - t0
    console.print(
        f"[bold]1.[/bold] Generated a SaaS account: {opts.customers} customers, "
        f"{opts.months} months of history up to {end:%Y-%m-%d} "
        f"(seed {opts.seed}) in {timings['generate_s']:.1f}s."
    )
    server = SandboxServer(account)
    base_url = server.start(port=0)
    console.print(f"[bold]2.[/bold] Serving it as a local Stripe API at {base_url}.")
    return server, base_url


def _demo_settings(path: Path, base_url: str) -> Any:
    from etl.config import load_settings

    return load_settings(
        database_url=f"sqlite:///{path}",
        stripe_api_key=DEMO_KEY,
        stripe_api_base=base_url,
        # The local server has no rate limit; Stripe's own 25/s would only slow the demo.
        stripe_rate_limit=1000,
        log_level=os.environ.get("ETL_LOG_LEVEL", "warning"),
    )


def _load(
    container: Container,
    opts: DemoOptions,
    *,
    end: datetime,
    path: Path,
    console: Console,
    timings: dict[str, float],
) -> tuple[Any, Any]:
    """Steps 3 and 4: the sync and the recompute, as the daemon runs them."""
    from etl.db.schema import init_db
    from jobs.runner import JobContext, run_job

    init_db(container.engine)
    _load_demo_rates(container, opts.months, end)
    progress = sys.stderr.isatty()
    console.print(f"[bold]3.[/bold] Syncing into {path} …")
    t0 = time.monotonic()
    sync = run_job(container, "sync", JobContext(trigger="cli", progress=progress), retries=0)
    timings["sync_s"] = time.monotonic() - t0
    if sync.status != "ok":
        raise EtlError(f"the demo's sync failed: {sync.error}")
    c = sync.counts
    console.print(
        f"   {c.get('objects', 0):,} objects in {c.get('requests', 0):,} requests, "
        f"{timings['sync_s']:.1f}s."
    )
    t0 = time.monotonic()
    rec = run_job(container, "recompute", JobContext(trigger="cli"), retries=0)
    timings["recompute_s"] = time.monotonic() - t0
    if rec.status != "ok":
        raise EtlError(f"the demo's recompute failed: {rec.error}")
    console.print(
        f"[bold]4.[/bold] Computed MRR and movements: {rec.counts.get('customers', 0)} "
        f"customers, {rec.counts.get('monthly_rows', 0)} monthly rows, "
        f"{timings['recompute_s']:.1f}s."
    )
    return sync, rec


def _show(
    container: Container, path: Path, console: Console, timings: dict[str, float]
) -> tuple[Any, Any]:
    """Step 5: the MRR table, and the picture written next to the database."""
    from etl.report.chart import load_series, write_chart_files

    series = load_series(container.engine)
    if series is None:
        raise EtlError("the demo computed no MRR: nothing to show")
    console.print()
    console.print(mrr_table(series, 12))
    console.print()
    t0 = time.monotonic()
    files = write_chart_files(container.engine, path.parent, stem=f"{path.stem}-mrr")
    timings["chart_s"] = time.monotonic() - t0
    if files is not None:
        console.print(f"[bold]5.[/bold] MRR picture: {files.png}  (web page: {files.html})")
    return series, files


def serve_demo(container: Container, opts: DemoOptions, console: Console) -> None:
    """Serve the API over the demo database until Ctrl-C (or SIGTERM)."""
    from etl.api.keys import create_key
    from etl.api.serve import ApiThread, build_app

    with container.engine.begin() as conn:
        _info, key = create_key(conn, name="demo")
    app = build_app(container, require_https=False)
    try:
        api = ApiThread(app, opts.host, opts.port).start()
    except EtlError:
        if opts.port == 0:
            raise
        # Port 8000 is often taken on a developer's machine: any free port will do.
        console.print(f"Port {opts.port} is busy; serving on a free port instead.")
        api = ApiThread(app, opts.host, 0).start()
    base = f"http://{opts.host}:{api.port}"
    console.print(
        f"\n[bold]6.[/bold] The API is serving at {base} (Ctrl-C to stop).\n"
        f"   API key (shown once): {key}\n\n"
        f"   curl -u {key}: {base}/v2/mrr\n"
        f"   curl -H 'Authorization: Token token=\"{key}\"' '{base}/v2/customers?limit=3'\n"
        f"   curl -H 'Authorization: Bearer {key}' {base}/v2/mrr_by_plan\n"
        f"   curl {base}/healthz\n\n"
        f"   Chart: open {base}/chart — user name: the key, password: empty.\n"
        f"   OpenAPI: {base}/v2/docs",
        soft_wrap=True,
    )
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        while not stop.wait(0.5):
            if not api.thread.is_alive():
                raise EtlError("the API server stopped unexpectedly")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        api.stop()
    console.print("Stopped.")
