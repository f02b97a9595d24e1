"""/chart: the MRR picture as an HTML page (inline SVG, no scripts, no external resources).

Same key as /v2. A browser answers the 401's `WWW-Authenticate: Basic` with a login
prompt: paste the key as the user name and leave the password empty.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse

from etl.api.deps import EngineDep
from etl.currency import CURRENCY_PATTERN
from etl.report.chart import load_series, render_html

router = APIRouter(tags=["chart"])


@router.get("/chart", response_class=HTMLResponse, include_in_schema=False)
async def chart(
    engine: EngineDep,
    currency: str | None = Query(None, pattern=CURRENCY_PATTERN),
) -> HTMLResponse:
    series = await run_in_threadpool(load_series, engine, currency=currency)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return HTMLResponse(render_html(series, generated_at=stamp))
