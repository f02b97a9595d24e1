"""/v2/mrr, /v2/mrr/<month> and /v2/mrr_by_plan, read from the monthly snapshots."""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

from fastapi import APIRouter, Path, Query, Request
from sqlalchemy import Connection, bindparam, case, select
from starlette.responses import Response

from etl.api import examples
from etl.api.deps import EngineDep, SettingsDep
from etl.api.docs import errors, ok
from etl.api.errors import ApiError
from etl.api.http import cached
from etl.api.schemas import Mrr, MrrByPlan, MrrList, NoData
from etl.config import Settings
from etl.currency import CURRENCY_PATTERN, currency_shape
from etl.db import tables
from etl.db.engine import read_connection

router = APIRouter(prefix="/v2", tags=["mrr"])

MONTHLY = tables.mrr_monthly
_M = MONTHLY.c
_B = tables.mrr_by_plan.c

CURRENCY_DOC = (
    "Which series: a currency code gives that currency's own (native) figures. Without it, "
    "the reporting currency's converted totals (basis `reporting`, all currencies "
    "converted with the loaded exchange rates) when they exist, else the native series "
    "of the account's main currency (the one with the most MRR in the latest month)."
)
MONTH_PATTERN = r"^\d{4}-?\d{2}(-\d{2}([T ].*)?)?$"
_MONTH = re.compile(r"^(\d{4})-?(\d{2})(?:-(\d{2})(?:[T ].*)?)?$")


def parse_month(value: str, param: str) -> date:
    """`2016-04-01` (any day of the month, or a datetime), `2016-04` or `201604`."""
    m = _MONTH.match(value.strip())
    if m:
        year, month, day = int(m.group(1)), int(m.group(2)), m.group(3)
        try:
            date(year, month, int(day) if day else 1)
            return date(year, month, 1)
        except ValueError:
            pass
    raise ApiError(
        400,
        f"Invalid {param}: {value!r} is not a month (use 2016-04-01, 2016-04 or 201604)",
        param=param,
    )


def check_currency_param(currency: str | None) -> str | None:
    if currency is None:
        return None
    try:
        return currency_shape(currency)
    except ValueError:
        raise ApiError(
            400, f"Invalid currency: {currency!r} is not a currency code", param="currency"
        ) from None


def _missing(text: str | None) -> list[str]:
    if not text:
        return []
    try:
        value = json.loads(text)
    except ValueError:
        return [c.strip() for c in text.split(",") if c.strip()]
    if isinstance(value, list):
        return [str(c) for c in value]
    if isinstance(value, dict):
        return sorted(str(c) for c in value)
    return [str(value)]


# The fields every MRR object carries, after "object" and "month", in the order sent.
_FIELDS = (
    "mrr",
    "subscriptions",
    "change_in_mrr",
    "expansion_mrr",
    "contraction_mrr",
    "upgrade_mrr",
    "downgrade_mrr",
    "new_mrr",
    "new_customers",
    "reactivation_mrr",
    "reactivated_customers",
    "lost_mrr",
    "lost_customers",
    "customers",
    "arr",
    "arpa",
    "currency",
    "basis",
)
_EXTRA = ("fx_impact_mrr", "missing_rates", "is_current", "waiting_mrr", "waiting_subscriptions")
# Positional columns: reading a Row by attribute name costs ~0.5 µs a field, by index
# next to nothing, and a 60-month series is 1,400 fields.
_COLUMNS = (_M.month, *(_M[n] for n in _FIELDS), *(_M[n] for n in _EXTRA))
_N = len(_FIELDS) + 1
_I_BASIS = _FIELDS.index("basis") + 1


_KEYS = ("object", "month", *_FIELDS)


def mrr_dict(r: Any) -> dict[str, Any]:
    """The API object of one row of `_COLUMNS` (any sequence in that order)."""
    t = tuple(r)
    d: dict[str, Any] = dict(zip(_KEYS, ("mrr", t[0].isoformat(), *t[1:_N]), strict=True))
    fx_impact, missing_rates, is_current, waiting_mrr, waiting_subs = t[_N:]
    if t[_I_BASIS] == "reporting":
        d["fx_impact_mrr"] = fx_impact
        d["missing_rates"] = _missing(missing_rates)
    if is_current:
        d["waiting_mrr"] = waiting_mrr
        d["waiting_subscriptions"] = waiting_subs
    return d


# Statements built once: constructing a select() per request cost more than running it,
# and a fixed structure with bound parameters hits SQLAlchemy's compiled cache.
_SERIES_WHERE = (_M.basis == bindparam("basis"), _M.currency == bindparam("currency"))
# The series without a currency, in one query: the reporting currency's converted
# series if it has any month, else the native series with the most MRR in the latest
# month (ties: the first currency code).
_DEFAULT_SERIES = (
    select(_M.basis, _M.currency)
    .where(
        ((_M.basis == "reporting") & (_M.currency == bindparam("currency")))
        | (_M.basis == "native")
    )
    .order_by(
        case((_M.basis == "reporting", 0), else_=1),
        _M.month.desc(),
        _M.mrr.desc(),
        _M.currency,
    )
    .limit(1)
)
_SERIES = select(*_COLUMNS).where(*_SERIES_WHERE).order_by(_M.month)
_ONE_MONTH = select(*_COLUMNS).where(*_SERIES_WHERE, _M.month == bindparam("month"))


def series_params(conn: Connection, settings: Settings, currency: str | None) -> dict[str, str]:
    """The basis and currency of the series a request asks for (see CURRENCY_DOC)."""
    if currency is not None:
        return {"basis": "native", "currency": currency}
    reporting = settings.reporting_currency
    found = conn.execute(_DEFAULT_SERIES, {"currency": reporting}).first()
    if found is None:
        return {"basis": "native", "currency": reporting}
    return {"basis": found[0], "currency": found[1]}


@router.get(
    "/mrr",
    response_model=MrrList,
    summary="Retrieve all MRRs",
    description="MRR of every month, oldest first. " + CURRENCY_DOC,
    responses={**ok(examples.MRR_LIST), **errors()},
)
async def all_mrr(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    currency: str | None = Query(None, description=CURRENCY_DOC, pattern=CURRENCY_PATTERN),
) -> Response:
    cur = check_currency_param(currency)

    def build() -> dict[str, Any]:
        with read_connection(engine) as conn:
            params = series_params(conn, settings, cur)
            rows = conn.execute(_SERIES, params).all()
        return {"data": [mrr_dict(r) for r in rows]}

    return await cached(request, build)


@router.get(
    "/mrr/{month}",
    response_model=Mrr | NoData,
    summary="Retrieve a month's recurring revenue",
    description="One month: `2016-04-01` (any day of the month works), `2016-04` or "
    "`201604`. A month without data returns `{}`. `waiting_mrr` and "
    "`waiting_subscriptions` appear for the current month only. " + CURRENCY_DOC,
    responses={**ok(examples.MRR), **errors()},
)
async def month_mrr(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    month: str = Path(
        description="2016-04-01 (any day of the month), 2016-04 or 201604",
        pattern=MONTH_PATTERN,
    ),
    currency: str | None = Query(None, description=CURRENCY_DOC, pattern=CURRENCY_PATTERN),
) -> Response:
    first = parse_month(month, "month")
    cur = check_currency_param(currency)

    def build() -> dict[str, Any]:
        with read_connection(engine) as conn:
            params = series_params(conn, settings, cur)
            row = conn.execute(_ONE_MONTH, {**params, "month": first}).first()
        return mrr_dict(row) if row is not None else {}

    return await cached(request, build)


def by_plan_dict(r: Any) -> dict[str, Any]:
    return {
        "month": r.month.isoformat() + "T00:00:00.000Z",
        "total_mrr": r.total_mrr,
        "total_customers": r.total_customers,
        "end_of_term_customers": r.end_of_term_customers,
        "lost_customers": r.lost_customers,
        "end_of_term_mrr": r.end_of_term_mrr,
        "lost_mrr": r.lost_mrr,
        "new_mrr": r.new_mrr,
        "beginning_mrr": r.beginning_mrr,
        "upgrade_mrr": r.upgrade_mrr,
        "downgrade_mrr": r.downgrade_mrr,
        "moved_in_mrr": r.moved_in_mrr,
        "moved_out_mrr": r.moved_out_mrr,
        "waiting_mrr": r.waiting_mrr,
        "plan_name": r.plan_name,
        "plan_eid": r.plan_id,
        "currency": r.currency,
        "new_customers": r.new_customers,
        "beginning_customers": r.beginning_customers,
        "expansion_mrr": r.expansion_mrr,
        "contraction_mrr": r.contraction_mrr,
    }


@router.get(
    "/mrr_by_plan",
    response_model=list[MrrByPlan],
    summary="Retrieve monthly RR by plans",
    description="MRR and its movements per plan and month, for the months from "
    "`start_month` to `end_month` inclusive (either may be omitted), ordered by month, "
    "then plan. Each row is in its plan's currency; `currency` keeps one currency's plans.",
    responses={**ok(examples.MRR_BY_PLAN), **errors()},
)
async def mrr_by_plan(
    request: Request,
    engine: EngineDep,
    start_month: str | None = Query(
        None, description="first month, e.g. 2019-01-01", pattern=MONTH_PATTERN
    ),
    end_month: str | None = Query(
        None, description="last month (inclusive), e.g. 2019-02-01", pattern=MONTH_PATTERN
    ),
    currency: str | None = Query(
        None, description="only plans in this currency", pattern=CURRENCY_PATTERN
    ),
) -> Response:
    start = parse_month(start_month, "start_month") if start_month is not None else None
    end = parse_month(end_month, "end_month") if end_month is not None else None
    if start is not None and end is not None and end < start:
        raise ApiError(400, "Invalid end_month: it is before start_month", param="end_month")
    cur = check_currency_param(currency)

    def build() -> list[dict[str, Any]]:
        q = select(tables.mrr_by_plan)
        if start is not None:
            q = q.where(_B.month >= start)
        if end is not None:
            q = q.where(_B.month <= end)
        if cur is not None:
            q = q.where(_B.currency == cur)
        with read_connection(engine) as conn:
            rows = conn.execute(q.order_by(_B.month, _B.plan_id)).all()
        return [by_plan_dict(r) for r in rows]

    return await cached(request, build)
