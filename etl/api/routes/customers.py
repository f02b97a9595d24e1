"""/v2/customers: create, retrieve, update and list, with lookups and BillaBear-style filters."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from sqlalchemy import Connection, bindparam, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from etl.api import examples
from etl.api.deps import ApiStateDep, EngineDep
from etl.api.docs import body, errors, ok
from etl.api.errors import ApiError, not_found
from etl.api.http import cached, json_response, parse_input, read_body
from etl.api.schemas import Customer, CustomerCreate, CustomerList, CustomerUpdate
from etl.db import tables
from etl.db.engine import read_connection
from etl.db.lookups import is_customer_id_text, resolve_customer

router = APIRouter(prefix="/v2", tags=["customers"])

CUSTOMERS = tables.customers
_C = CUSTOMERS.c
_S = tables.customer_snapshots.c

_COLUMNS = (
    _C.id,
    _C.stripe_id,
    _C.extra_id,
    _C.email,
    _C.name,
    _C.currency,
    _C.country,
    _C.state,
    _S.currency.label("snap_currency"),
    _S.current_mrr,
    _S.current_subscription_count,
    _S.total_contract_value,
)
_JOINED = CUSTOMERS.outerjoin(tables.customer_snapshots, _S.customer_id == _C.id)


def customer_dict(r: Any) -> dict[str, Any]:
    """The API object of one row of `_COLUMNS`, read by position (attribute access on a
    Row costs ~0.5 µs a field: 0.5 ms for a page of 100)."""
    (
        id_,
        stripe_id,
        extra_id,
        email,
        name,
        currency,
        country,
        state,
        snap_currency,
        current_mrr,
        subscription_count,
        contract_value,
    ) = r
    return {
        "id": id_,
        "stripe_id": stripe_id,
        "extra_id": extra_id,
        "email": email,
        "name": name,
        "total_contract_value": contract_value or 0,
        "current_mrr": current_mrr or 0,
        "current_subscription_count": subscription_count or 0,
        "currency": currency or snap_currency,
        "country": country,
        "state": state,
    }


# Statements built once (bound parameters keep one structure in the compiled cache); the
# filtered variants of the list are built per request, as they are rare.
_SELECT = select(*_COLUMNS).select_from(_JOINED)
_ONE = _SELECT.where(_C.id == bindparam("id"))
_EXISTS = select(_C.id).where(_C.id == bindparam("id"))
_PAGE = _SELECT.order_by(_C.id).limit(bindparam("limit"))
_PAGE_AFTER = _SELECT.where(_C.id > bindparam("after")).order_by(_C.id).limit(bindparam("limit"))


def load_customer(conn: Connection, customer_id: int) -> dict[str, Any]:
    return customer_dict(conn.execute(_ONE, {"id": customer_id}).one())


def _email_taken(conn: Connection, email: str, except_id: int | None = None) -> bool:
    key = email.lower()
    q = select(_C.id).where(or_(_C.email_key == key, func.lower(_C.email) == key))
    if except_id is not None:
        q = q.where(_C.id != except_id)
    return conn.execute(q.limit(1)).first() is not None


def _conflict_email(email: str) -> ApiError:
    return ApiError(409, f"A customer with email {email!r} already exists", param="email")


_CLEARABLE = ("extra_id", "name", "country", "state")


def _nulls_clear(data: dict[str, Any]) -> dict[str, Any]:
    """A JSON null for a clearable field means "no value", like an empty form field."""
    return {k: ("" if v is None and k in _CLEARABLE else v) for k, v in data.items()}


def _blank_to_none(v: str | None) -> str | None:
    return v or None


@router.get(
    "/customers",
    response_model=CustomerList,
    summary="List all customers",
    description="Customers ordered by integer id. Filters: `email` (contains, "
    "case-insensitive), `country`, `extra_id`. `starting_after` is the id of the last "
    "customer of the previous page; an unknown id gives an empty page.",
    responses={**ok(examples.CUSTOMER_LIST), **errors()},
)
async def list_customers(
    *,
    request: Request,
    engine: EngineDep,
    limit: int = Query(10, ge=1, le=100, description="1 to 100 customers per page"),
    starting_after: str | None = Query(None, description="id of the last customer seen"),
    email: str | None = Query(None, description="part of the email, case-insensitive"),
    country: str | None = Query(None, description="ISO 3166-1 alpha-2 country code"),
    extra_id: str | None = Query(None, description="exact extra id"),
) -> Response:

    def build() -> dict[str, Any]:
        q = None
        if email or country or extra_id:
            q = _SELECT
            if email:
                q = q.where(func.lower(_C.email).contains(email.lower(), autoescape=True))
            if country:
                q = q.where(_C.country == country.strip().upper())
            if extra_id:
                q = q.where(_C.extra_id == extra_id)
        params: dict[str, Any] = {"limit": limit + 1}
        with read_connection(engine) as conn:
            if starting_after is not None:
                after = starting_after.strip()
                if not is_customer_id_text(after):
                    return {"object": "list", "has_more": False, "data": []}
                if conn.execute(_EXISTS, {"id": int(after)}).first() is None:
                    return {"object": "list", "has_more": False, "data": []}
                params["after"] = int(after)
            if q is None:
                stmt = _PAGE if starting_after is None else _PAGE_AFTER
            else:
                if starting_after is not None:
                    q = q.where(_C.id > bindparam("after"))
                stmt = q.order_by(_C.id).limit(bindparam("limit"))
            rows = conn.execute(stmt, params).all()
        return {
            "object": "list",
            "has_more": len(rows) > limit,
            "data": [customer_dict(r) for r in rows[:limit]],
        }

    return await cached(request, build)


@router.get(
    "/customers/{id}",
    response_model=Customer,
    summary="Retrieve a customer",
    responses={**ok(examples.CUSTOMER), **errors(404)},
)
async def retrieve_customer(request: Request, engine: EngineDep, id: str) -> Response:

    def build() -> dict[str, Any]:
        with read_connection(engine) as conn:
            row = resolve_customer(conn, id)
            if row is None:
                raise not_found("customer", id)
            return load_customer(conn, row.id)

    return await cached(request, build)


@router.post(
    "/customers",
    response_model=Customer,
    summary="Create a customer",
    description="Creates a customer (source `api`, no Stripe id). The email is required "
    "and unique, case-insensitively: a duplicate answers 409.",
    responses={**ok(examples.CUSTOMER), **errors(409)},
    openapi_extra=body(CustomerCreate, {"email": "customer@company.com"}),
)
async def create_customer(request: Request, state: ApiStateDep) -> Response:
    inp = parse_input(CustomerCreate, _nulls_clear(await read_body(request)))

    def write() -> dict[str, Any]:
        now = state.clock()
        try:
            with state.engine.begin() as conn:
                if _email_taken(conn, inp.email):
                    raise _conflict_email(inp.email)
                new_id = conn.execute(
                    CUSTOMERS.insert()
                    .values(
                        stripe_id=None,
                        extra_id=_blank_to_none(inp.extra_id),
                        email=inp.email,
                        email_key=inp.email.lower(),
                        name=_blank_to_none(inp.name),
                        currency=inp.currency,
                        country=_blank_to_none(inp.country),
                        state=_blank_to_none(inp.state),
                        source="api",
                        deleted=False,
                        created=now,
                        updated_at=now,
                    )
                    .returning(_C.id)
                ).scalar_one()
                return load_customer(conn, new_id)
        except IntegrityError:
            raise _conflict_email(inp.email) from None

    result = await run_in_threadpool(write)
    await state.after_write(recompute=False)
    return json_response(result)


@router.put(
    "/customers/{id}",
    response_model=Customer,
    summary="Update a customer",
    description="Partial update: parameters not given are left unchanged; an empty "
    "value clears `extra_id`, `name`, `country` or `state`. Data from Stripe overrides "
    "these values at the next sync.",
    responses={**ok(examples.CUSTOMER_UPDATED), **errors(404, 409)},
    openapi_extra=body(CustomerUpdate, {"extra_id": "Team X"}),
)
async def update_customer(request: Request, state: ApiStateDep, id: str) -> Response:
    inp = parse_input(CustomerUpdate, _nulls_clear(await read_body(request)))
    given = inp.model_fields_set

    def write() -> dict[str, Any]:
        try:
            with state.engine.begin() as conn:
                row = resolve_customer(conn, id)
                if row is None:
                    raise not_found("customer", id)
                values: dict[str, Any] = {}
                for field in ("extra_id", "name", "country", "state"):
                    if field in given:
                        values[field] = _blank_to_none(getattr(inp, field))
                if "currency" in given:
                    values["currency"] = inp.currency
                if "email" in given and inp.email is not None:
                    if _email_taken(conn, inp.email, except_id=row.id):
                        raise _conflict_email(inp.email)
                    values["email"] = inp.email
                    values["email_key"] = inp.email.lower()
                if values:
                    values["updated_at"] = state.clock()
                    conn.execute(update(CUSTOMERS).where(_C.id == row.id).values(**values))
                return load_customer(conn, row.id)
        except IntegrityError:
            raise _conflict_email(inp.email or "") from None

    result = await run_in_threadpool(write)
    await state.after_write(recompute=False)
    return json_response(result)
