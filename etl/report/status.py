"""What `etl status` says about the pipeline: runs, counts, current MRR, and its text.

Reads only; a handful of small queries. Every section degrades to "nothing yet" on a
fresh database. The CLI only prints: the wording of each line is made here, so that
`etl status` holds no logic of its own.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError, ProgrammingError

from etl.db import tables
from etl.db.engine import probe_database
from etl.db.models import (
    Customer,
    Invoice,
    RawObject,
    RevenueLine,
    Subscription,
)
from etl.db.tables import table_of
from etl.errors import UsageError
from etl.report.scene import money

COUNTED_TABLES = {
    "customers": Customer,
    "subscriptions": Subscription,
    "invoices": Invoice,
    "revenue_lines": RevenueLine,
    "raw_objects": RawObject,
}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") + "Z" if value is not None else None


def _run(row: Any) -> dict[str, Any]:
    counts = json.loads(row.counts_json) if row.counts_json else {}
    duration = (
        round((row.finished_at - row.started_at).total_seconds(), 3) if row.finished_at else None
    )
    return {
        "id": row.id,
        "job": row.job,
        "trigger": row.trigger,
        "status": row.status,
        "started_at": _iso(row.started_at),
        "finished_at": _iso(row.finished_at),
        "duration_s": duration,
        "counts": counts,
        "error": row.error,
    }


def job_summary(engine: Engine) -> dict[str, Any]:
    """For each job: its latest run and its latest successful run."""
    t = tables.job_runs
    out: dict[str, Any] = {}
    with engine.connect() as conn:
        latest = select(t.c.job, func.max(t.c.id).label("id")).group_by(t.c.job).subquery("latest")
        latest_ok = (
            select(t.c.job, func.max(t.c.id).label("id"))
            .where(t.c.status == "ok")
            .group_by(t.c.job)
            .subquery("latest_ok")
        )
        for kind, sub in (("last", latest), ("last_ok", latest_ok)):
            rows = conn.execute(select(t).join(sub, sub.c.id == t.c.id).order_by(t.c.job))
            for row in rows:
                out.setdefault(row.job, {})[kind] = _run(row)
    return out


def last_sync_run(engine: Engine) -> dict[str, Any] | None:
    t = tables.sync_runs
    with engine.connect() as conn:
        row = conn.execute(select(t).order_by(t.c.id.desc()).limit(1)).first()
    if row is None:
        return None
    return {
        "id": row.id,
        "kind": row.kind,
        "status": row.status,
        "started_at": _iso(row.started_at),
        "finished_at": _iso(row.finished_at),
        "objects": row.objects,
        "requests": row.requests,
        "error": row.error,
    }


def last_ok_sync_finished(engine: Engine) -> datetime | None:
    """`etl sync` run by hand records only a sync_runs row: count it too."""
    t = tables.sync_runs
    with engine.connect() as conn:
        return conn.execute(select(func.max(t.c.finished_at)).where(t.c.status == "ok")).scalar()


def table_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            name: int(conn.execute(select(func.count()).select_from(table_of(model))).scalar_one())
            for name, model in COUNTED_TABLES.items()
        }


def current_mrr(engine: Engine) -> list[dict[str, Any]]:
    """MRR of the latest month computed, per currency (native) and converted (reporting)."""
    t = tables.mrr_monthly
    with engine.connect() as conn:
        month = conn.execute(select(func.max(t.c.month))).scalar()
        if month is None:
            return []
        rows = conn.execute(
            select(
                t.c.month,
                t.c.currency,
                t.c.basis,
                t.c.mrr,
                t.c.customers,
                t.c.arr,
                t.c.missing_rates,
            )
            .where(t.c.month == month)
            # The converted total first: it is the one figure for the whole account.
            .order_by(t.c.basis.desc(), t.c.mrr.desc(), t.c.currency)
        )
        return [
            {
                "month": r.month.isoformat(),
                "currency": r.currency,
                "basis": r.basis,
                "mrr": int(r.mrr),
                "customers": int(r.customers),
                "arr": int(r.arr),
                # Converted totals leave out currencies without an exchange rate.
                "missing_rates": sorted(c for c in (r.missing_rates or "").split(",") if c),
            }
            for r in rows
        ]


def collect_status(engine: Engine) -> dict[str, Any]:
    jobs = job_summary(engine)

    def last_ok(job: str) -> str | None:
        run = jobs.get(job, {}).get("last_ok")
        return run["finished_at"] if run else None

    sync_times = [t for t in (last_ok("sync"), _iso(last_ok_sync_finished(engine))) if t]
    return {
        "database": engine.url.render_as_string(hide_password=True),
        "last_successful_sync": max(sync_times) if sync_times else None,
        "last_successful_recompute": last_ok("recompute"),
        "jobs": jobs,
        "last_sync_run": last_sync_run(engine),
        "counts": table_counts(engine),
        "current_mrr": current_mrr(engine),
    }


def read_status(engine: Engine) -> dict[str, Any]:
    """`collect_status`, with a database that cannot be reached said as a ConfigError
    naming DATABASE_URL and a missing schema as a usage error."""
    probe_database(engine)
    try:
        return collect_status(engine)
    except (OperationalError, ProgrammingError):
        probe_database(engine)  # the server may have gone away meanwhile
        raise UsageError("the database has no schema yet: run `etl init-db` first") from None


# ---------------------------------------------------------------- the text of `etl status`

JOB_COLUMNS = ("job", "last run", "status", "duration", "counts / error", "last ok")
# Bookkeeping fields of job reports that say nothing about the work done.
_NOISE = frozenset({"run_id", "job_run_id", "keep_days", "retries", "rate_limited"})


def ago(iso: str | None, now: datetime) -> str:
    """2026-11-21T21:48:07Z -> '2026-11-21T21:48:07Z (3 min ago)'; None -> 'never'."""
    if not iso:
        return "never"
    secs = int((now - datetime.fromisoformat(iso.rstrip("Z"))).total_seconds())
    if secs < 120:
        span = f"{secs}s"
    elif secs < 7200:
        span = f"{secs // 60} min"
    elif secs < 172800:
        span = f"{secs // 3600} h"
    else:
        span = f"{secs // 86400} days"
    return f"{iso} ({span} ago)"


def short_time(iso: str | None) -> str:
    """2026-11-21T21:48:07Z -> 2026-11-21 21:48:07 (UTC, as every time here)."""
    return iso[:19].replace("T", " ") if iso else ""


def counts_text(run: dict[str, Any]) -> str:
    """A run's error, else its first four non-zero counts."""
    if run.get("error"):
        return str(run["error"])[:80]
    counts = run.get("counts") or {}
    parts = [
        f"{k}={v:,}"
        for k, v in counts.items()
        if isinstance(v, int) and not isinstance(v, bool) and v and k not in _NOISE
    ]
    return ", ".join(parts[:4])


def job_rows(status: dict[str, Any]) -> list[tuple[str, ...]]:
    """One row of JOB_COLUMNS per job; the status cell is the raw status."""
    rows: list[tuple[str, ...]] = []
    for job, runs in status["jobs"].items():
        last = runs.get("last", {})
        ok = runs.get("last_ok")
        duration = last.get("duration_s")
        rows.append(
            (
                job,
                short_time(last.get("started_at")),
                str(last.get("status")),
                f"{duration:.1f}s" if duration is not None else "",
                counts_text(last),
                short_time(ok["finished_at"]) if ok else "never",
            )
        )
    return rows


def sync_run_text(status: dict[str, Any]) -> str | None:
    sr = status["last_sync_run"]
    if not sr:
        return None
    return (
        f"#{sr['id']} {sr['kind']} {sr['status']}, {sr['objects']:,} objects, "
        f"{sr['requests']:,} requests, started {short_time(sr['started_at'])}"
    )


def rows_text(status: dict[str, Any]) -> str:
    return ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in status["counts"].items())


def mrr_lines(status: dict[str, Any]) -> list[str]:
    """One line per MRR figure of the latest month; the converted total says what it
    leaves out (currencies without an exchange rate)."""
    lines = []
    for r in status["current_mrr"]:
        basis = ""
        if r["basis"] == "reporting":
            gone = [c.upper() for c in r.get("missing_rates", [])]
            basis = (
                f" (converted; {', '.join(gone)} left out: no exchange rate, see `etl fx load`)"
                if gone
                else " (all currencies converted)"
            )
        n, cur = r["customers"], r["currency"]
        lines.append(
            f"{cur.upper()} {money(r['mrr'], cur)}{basis}, "
            f"{n} customer{'' if n == 1 else 's'}, ARR {money(r['arr'], cur)}"
        )
    return lines
