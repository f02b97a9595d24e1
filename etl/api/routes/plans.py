"""/v2/plans: Stripe prices and plans, and plans created through the API."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from etl.api import examples
from etl.api.deps import ApiStateDep, EngineDep
from etl.api.docs import body, errors, ok
from etl.api.errors import ApiError, not_found
from etl.api.http import cached, json_response, parse_input, read_body
from etl.api.schemas import Plan, PlanCreate, PlanList
from etl.db import tables
from etl.db.engine import read_connection

router = APIRouter(prefix="/v2", tags=["plans"])

PLANS = tables.plans
_P = PLANS.c
_COLUMNS = (_P.id, _P.amount, _P.currency, _P.interval, _P.interval_count, _P.name)
# Plans are what subscriptions are made of: one-time prices are not listed.
_RECURRING = _P.type == "recurring"


def plan_dict(r: Any) -> dict[str, Any]:
    return {
        "id": r.id,
        "object": "plan",
        "amount": r.amount,
        "currency": r.currency,
        "interval": r.interval,
        "interval_count": r.interval_count,
        "name": r.name,
    }


def _conflict(plan_id: str) -> ApiError:
    return ApiError(409, f"A plan with id {plan_id!r} already exists", param="id")


@router.get(
    "/plans",
    response_model=PlanList,
    summary="List all plans",
    description="Recurring plans ordered by id; `starting_after` is the id of the last plan "
    "of the previous page (an unknown id gives an empty page).",
    responses={**ok(examples.PLAN_LIST), **errors()},
)
async def list_plans(
    request: Request,
    engine: EngineDep,
    limit: int = Query(10, ge=1, le=100, description="1 to 100 plans per page"),
    starting_after: str | None = Query(None, description="id of the last plan seen"),
) -> Response:

    def build() -> dict[str, Any]:
        q = select(*_COLUMNS).where(_RECURRING)
        with read_connection(engine) as conn:
            if starting_after is not None:
                found = conn.execute(
                    select(_P.id).where(_P.id == starting_after, _RECURRING)
                ).first()
                if found is None:
                    return {"object": "list", "has_more": False, "data": []}
                q = q.where(_P.id > starting_after)
            rows = conn.execute(q.order_by(_P.id).limit(limit + 1)).all()
        return {
            "object": "list",
            "has_more": len(rows) > limit,
            "data": [plan_dict(r) for r in rows[:limit]],
        }

    return await cached(request, build)


@router.get(
    "/plans/{id}",
    response_model=Plan,
    summary="Retrieve a plan",
    responses={**ok(examples.PLAN), **errors(404)},
)
async def retrieve_plan(request: Request, engine: EngineDep, id: str) -> Response:

    def build() -> dict[str, Any]:
        with read_connection(engine) as conn:
            row = conn.execute(select(*_COLUMNS).where(_P.id == id, _RECURRING)).first()
        if row is None:
            raise not_found("plan", id)
        return plan_dict(row)

    return await cached(request, build)


@router.post(
    "/plans",
    response_model=Plan,
    summary="Create a plan",
    description="Creates a plan for imported invoices. An id that exists (from Stripe or "
    "the API) answers 409.",
    responses={**ok(examples.PLAN), **errors(409)},
    openapi_extra=body(
        PlanCreate,
        {
            "id": "the-plan",
            "amount": 2000,
            "interval": "month",
            "name": "The Plan",
            "currency": "eur",
        },
    ),
)
async def create_plan(request: Request, state: ApiStateDep) -> Response:
    inp = parse_input(PlanCreate, await read_body(request))

    def write() -> dict[str, Any]:
        now = state.clock()
        try:
            with state.engine.begin() as conn:
                if conn.execute(select(_P.id).where(_P.id == inp.id)).first() is not None:
                    raise _conflict(inp.id)
                conn.execute(
                    PLANS.insert().values(
                        id=inp.id,
                        source="api",
                        name=inp.name,
                        amount=inp.amount,
                        currency=inp.currency,
                        type="recurring",
                        interval=inp.interval,
                        interval_count=inp.interval_count,
                        usage_type="licensed",
                        active=True,
                        deleted=False,
                        created=now,
                        updated_at=now,
                    )
                )
                return plan_dict(conn.execute(select(*_COLUMNS).where(_P.id == inp.id)).one())
        except IntegrityError:
            raise _conflict(inp.id) from None

    result = await run_in_threadpool(write)
    await state.after_write(recompute=False)
    return json_response(result)
