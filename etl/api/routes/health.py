"""/healthz: no key needed; database reachability, the last successful sync and recompute,
and every job's latest run (the daemon's and cron's, as recorded in job_runs)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from etl.api.deps import EngineDep
from etl.api.http import json_response
from etl.api.schemas import Health
from etl.db import tables
from etl.db.engine import read_connection
from etl.logs import get_logger

router = APIRouter(tags=["health"])
log = get_logger("etl.api.routes.health")

SYNC_RUNS = tables.sync_runs


def _iso(ts: datetime | None) -> str | None:
    return ts.isoformat() + "Z" if ts is not None else None


def _jobs(conn: Any) -> dict[str, Any]:
    """Each job's latest run and the end of its latest successful one: two grouped queries."""
    t = tables.job_runs
    latest = select(t.c.job, func.max(t.c.id).label("id")).group_by(t.c.job).subquery()
    out: dict[str, Any] = {}
    for row in conn.execute(select(t).join(latest, latest.c.id == t.c.id)):
        out[row.job] = {
            "status": row.status,
            "started_at": _iso(row.started_at),
            "finished_at": _iso(row.finished_at),
            "error": (row.error or "")[:500] or None,
            "last_ok_at": None,
        }
    ok = select(t.c.job, func.max(t.c.finished_at)).where(t.c.status == "ok").group_by(t.c.job)
    for job, finished in conn.execute(ok):
        if job in out:
            out[job]["last_ok_at"] = _iso(finished)
    return dict(sorted(out.items()))


@router.get(
    "/healthz",
    response_model=Health,
    summary="Health",
    description="Needs no key. 200 when the database answers, 503 when it does not.",
    responses={503: {"model": Health, "description": "The database is unreachable"}},
)
async def healthz(engine: EngineDep) -> Response:

    def probe() -> dict[str, Any]:
        with read_connection(engine) as conn:
            last_sync = conn.execute(
                select(func.max(SYNC_RUNS.c.finished_at)).where(SYNC_RUNS.c.status == "ok")
            ).scalar()
            last_recompute = conn.execute(
                select(func.max(tables.job_runs.c.finished_at)).where(
                    tables.job_runs.c.job == "recompute", tables.job_runs.c.status == "ok"
                )
            ).scalar()
            jobs = _jobs(conn)
        return {
            "status": "ok",
            "database": "ok",
            "last_sync_at": _iso(last_sync),
            "last_recompute_at": _iso(last_recompute),
            "jobs": jobs,
        }

    try:
        return json_response(await run_in_threadpool(probe))
    except SQLAlchemyError as exc:
        log.warning("api.health_database_unreachable", error=type(exc).__name__)
        return json_response(
            {
                "status": "error",
                "database": "unreachable",
                "last_sync_at": None,
                "last_recompute_at": None,
                "jobs": {},
            },
            status=503,
        )
