"""/v2/invoices: import, retrieve, delete and list invoices billed outside Stripe.

Only imported (source='manual') invoices are visible here, as the seed says. The
storage (etl.imports.invoices) and the one validator of the input
(etl.imports.invoice_rules) are those of `etl import-invoices`; a write waits for the
incremental recompute of the customer it touches, so the metrics served right after
already include (or exclude) it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from etl.api import examples
from etl.api.deps import ApiStateDep, EngineDep
from etl.api.docs import body, errors, ok
from etl.api.errors import ApiError, not_found
from etl.api.http import cached, json_response, read_body
from etl.api.schemas import DeletedInvoice, Invoice, InvoiceCreate, InvoiceList
from etl.db import tables
from etl.db.engine import read_connection

router = APIRouter(prefix="/v2", tags=["invoices"])

INVOICES = tables.invoices
_I = INVOICES.c
_MANUAL = _I.source == "manual"
_JOINED = select(INVOICES, tables.customers.c.stripe_id.label("customer_stripe_id")).select_from(
    INVOICES.outerjoin(tables.customers, tables.customers.c.id == _I.customer_id)
)


def _to_api(row: Any) -> dict[str, Any]:
    # Lazy here and below: the imports and metrics stages (~35 modules) load with the
    # first invoice request, not with the app.
    from etl.imports.invoices import manual_invoice_to_api  # noqa: PLC0415

    return manual_invoice_to_api(row)


def load_invoice(conn: Connection, invoice_id: str) -> dict[str, Any] | None:
    row = conn.execute(_JOINED.where(_I.id == invoice_id, _MANUAL)).first()
    return _to_api(row) if row is not None else None


def _created_invoice(conn: Connection, invoice_id: str) -> dict[str, Any]:
    """The invoice just imported in this transaction, as the API returns it."""
    invoice = load_invoice(conn, invoice_id)
    if invoice is None:
        raise LookupError(f"invoice {invoice_id!r} is not readable right after its import")
    return invoice


def _conflict(invoice_id: str) -> ApiError:
    return ApiError(409, f"An invoice with id {invoice_id!r} already exists", param="id")


@router.get(
    "/invoices",
    response_model=InvoiceList,
    summary="List all invoices",
    description="Imported invoices only, ordered by id; `starting_after` is the id of the "
    "last invoice of the previous page (an unknown id gives an empty page).",
    responses={**ok(examples.INVOICE_LIST), **errors()},
)
async def list_invoices(
    request: Request,
    engine: EngineDep,
    limit: int = Query(10, ge=1, le=100, description="1 to 100 invoices per page"),
    starting_after: str | None = Query(None, description="id of the last invoice seen"),
) -> Response:

    def build() -> dict[str, Any]:
        q = _JOINED.where(_MANUAL)
        with read_connection(engine) as conn:
            if starting_after is not None:
                found = conn.execute(select(_I.id).where(_I.id == starting_after, _MANUAL)).first()
                if found is None:
                    return {"object": "list", "has_more": False, "data": []}
                q = q.where(_I.id > starting_after)
            rows = conn.execute(q.order_by(_I.id).limit(limit + 1)).all()
        return {
            "object": "list",
            "has_more": len(rows) > limit,
            "data": [_to_api(r) for r in rows[:limit]],
        }

    return await cached(request, build)


@router.get(
    "/invoices/{id}",
    response_model=Invoice,
    summary="Retrieve an invoice",
    description="Only invoices created through this API (or `etl import-invoices`).",
    responses={**ok(examples.INVOICE), **errors(404)},
)
async def retrieve_invoice(request: Request, engine: EngineDep, id: str) -> Response:

    def build() -> dict[str, Any]:
        with read_connection(engine) as conn:
            found = load_invoice(conn, id)
        if found is None:
            raise not_found("invoice", id)
        return found

    return await cached(request, build)


@router.post(
    "/invoices",
    response_model=Invoice,
    summary="Create an invoice",
    description="Imports a non-Stripe payment. With `plan` it is a subscription payment "
    "and makes MRR over its period; without, a one-time payment that counts in revenue "
    "(total contract value) only. Defaults: `date_paid` now, `date` = `date_paid`, "
    "`period_start` = `date`, `period_end` = `period_start` + one plan interval, "
    "`amount` = plan amount × quantity. An `id` imported before answers 409. The metrics "
    "served include the invoice when this call returns.",
    responses={**ok(examples.INVOICE_CREATED), **errors(409)},
    openapi_extra=body(
        InvoiceCreate, {"customer": "cus_ABCD", "plan": "hobby_monthly", "amount": 4000}
    ),
)
async def create_invoice(request: Request, state: ApiStateDep) -> Response:
    # Lazy, as in _to_api: these stages load with the first invoice request.
    from etl.imports.invoices import InvoiceValidationError, create_manual_invoices  # noqa: PLC0415
    from etl.metrics.revenue import refresh_revenue_lines  # noqa: PLC0415

    data = await read_body(request)
    given_id = str(data["id"]).strip() if data.get("id") not in (None, "") else None

    def write() -> dict[str, Any]:
        try:
            with state.engine.begin() as conn:
                created = create_manual_invoices(
                    conn, state.settings, [data], now=state.clock(), derive=refresh_revenue_lines
                )
                return _created_invoice(conn, created[0]["id"])
        except InvoiceValidationError as exc:
            first = exc.errors[0]
            if first.conflict:
                raise _conflict(given_id or "") from None
            raise ApiError(
                400, f"Invalid {first.param}: {first.message}", param=first.param
            ) from None
        except IntegrityError:
            raise _conflict(given_id or "") from None

    result = await run_in_threadpool(write)
    await state.after_write(recompute=True)
    return json_response(result)


@router.delete(
    "/invoices/{id}",
    response_model=DeletedInvoice,
    summary="Delete an invoice",
    description="Permanently deletes an imported invoice; the metrics served no longer "
    "include it when this call returns.",
    responses={**ok(examples.INVOICE_DELETED), **errors(404)},
)
async def delete_invoice(state: ApiStateDep, id: str) -> Response:
    # Lazy, as in _to_api: these stages load with the first invoice request.
    from etl.imports.invoices import delete_manual_invoice  # noqa: PLC0415
    from etl.metrics.revenue import refresh_revenue_lines  # noqa: PLC0415

    def write() -> bool:
        with state.engine.begin() as conn:
            return delete_manual_invoice(conn, state.settings, id, derive=refresh_revenue_lines)

    if not await run_in_threadpool(write):
        raise not_found("invoice", id)
    await state.after_write(recompute=True)
    return json_response({"deleted": True, "id": id})
