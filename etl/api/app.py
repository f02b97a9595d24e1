"""The FastAPI application: `create_app(container)` builds it around the composition root.

Nothing here runs at import: no engine, no settings. `etl serve` (etl/cli/api.py) and
the tests call `create_app` with a Container from `etl.bootstrap`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from etl import __version__
from etl.api.auth import KeyStore
from etl.api.errors import install_error_handlers
from etl.api.http import ResponseCache
from etl.api.middleware import RequestMiddleware
from etl.api.refresh import MetricsRefresher
from etl.api.routes import chart as routes_chart
from etl.api.routes import customers as routes_customers
from etl.api.routes import health
from etl.api.routes import invoices as routes_invoices
from etl.api.routes import mrr as routes_mrr
from etl.api.routes import plans as routes_plans
from etl.api.schemas import CustomerCreate, CustomerUpdate, InvoiceCreate, PlanCreate
from etl.api.state import ApiState
from etl.bootstrap import Container
from etl.clock import utcnow

DESCRIPTION = """\
A self-hosted, FirstOfficer V2 compatible API over the metrics this pipeline computes
from Stripe and imported invoices. Money is in integer cents, dates are ISO 8601.

**Authentication** (every /v2 endpoint): `Authorization: Token token="KEY"`,
`Authorization: Bearer KEY`, or HTTP Basic with the key as user name and an empty
password (`curl -u KEY:`). Keys come from `etl api-key create`.

**Errors**: `{"error": {"type": "invalid_request_error", "message": "…", "param": "…"}}`
with 400, 401, 404, 405 or 409; an unexpected failure is a 500 whose body carries the
request id that the server's log line also carries (and the `X-Request-Id` header).

**Bodies**: form-encoded (as in `curl -d`) or JSON.

**Currencies**: MRR figures exist per currency. `GET /v2/mrr` and `/v2/mrr/<month>`
take an optional `currency`: given, that currency's native figures; omitted, the
reporting currency's converted totals (basis `reporting`) when exchange rates are
loaded, else the native series of the account's main currency.

**Freshness**: imported invoices and other writes are reflected in the metrics before
the write's response returns (a recompute of the customers they touch).
"""

ROUTE_MODULES = (routes_customers, routes_mrr, routes_plans, routes_invoices, health)
BODY_MODELS = (CustomerCreate, CustomerUpdate, PlanCreate, InvoiceCreate)


def _openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = get_openapi(
            title="stripe-metrics-etl API (FirstOfficer V2 compatible)",
            version=__version__,
            description=DESCRIPTION,
            routes=app.routes,
        )
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        for model in BODY_MODELS:
            schemas[model.__name__] = model.model_json_schema(
                ref_template="#/components/schemas/{model}"
            )
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        doc["components"]["securitySchemes"] = {
            "basicAuth": {
                "type": "http",
                "scheme": "basic",
                "description": "The key as user name, empty password",
            },
            "bearerAuth": {"type": "http", "scheme": "bearer"},
            "tokenAuth": {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": 'Token token="KEY"',
            },
        }
        _restore_examples(doc)
        for path, item in doc.get("paths", {}).items():
            for op in item.values():
                op.get("responses", {}).pop("422", None)
                if path.startswith("/v2/"):
                    op["security"] = [{"basicAuth": []}, {"bearerAuth": []}, {"tokenAuth": []}]
        app.openapi_schema = doc
        return doc

    return build


def _restore_examples(doc: dict[str, Any]) -> None:
    """Put the seed's examples back verbatim: FastAPI's encoder drops their null fields."""
    routes = [r for module in ROUTE_MODULES for r in module.router.routes]
    for route in routes:
        if not isinstance(route, APIRoute):
            continue
        for method in route.methods or ():
            op = doc["paths"].get(route.path, {}).get(method.lower())
            if op is None:
                continue
            for code, spec in route.responses.items():
                example = spec.get("content", {}).get("application/json", {}).get("example")
                if example is not None:
                    media = op["responses"][str(code)].setdefault("content", {})
                    media.setdefault("application/json", {})["example"] = example


def _state(
    container: Container,
    *,
    clock: Callable[[], datetime] | None,
    key_ttl: float,
    cache_ttl: float,
    recompute: Callable[..., Any] | None,
) -> ApiState:
    """What the routes share: keys, the response cache and the metrics refresher."""
    cache = ResponseCache(ttl=cache_ttl)
    refresher_kwargs: dict[str, Any] = {"on_done": cache.invalidate}
    if recompute is not None:
        refresher_kwargs["run"] = recompute
    return ApiState(
        settings=container.settings,
        engine=container.engine,
        keys=KeyStore(container.engine, ttl=key_ttl),
        cache=cache,
        refresher=MetricsRefresher(container.engine, container.settings, **refresher_kwargs),
        clock=clock or utcnow,
    )


def create_app(
    container: Container,
    *,
    require_https: bool | None = None,
    clock: Callable[[], datetime] | None = None,
    key_ttl: float = 2.0,
    cache_ttl: float = 1.0,
    recompute: Callable[..., Any] | None = None,
) -> FastAPI:
    """The API over `container`'s database.

    `require_https`: None takes `settings.require_https` (None there means off: the
    serve command decides "auto" from the address it binds).
    """
    settings = container.settings
    state = _state(
        container, clock=clock, key_ttl=key_ttl, cache_ttl=cache_ttl, recompute=recompute
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        state.refresher.stop()

    app = FastAPI(
        title="stripe-metrics-etl API",
        version=__version__,
        openapi_url="/v2/openapi.json",
        docs_url="/v2/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.api = state
    install_error_handlers(app)
    for module in ROUTE_MODULES:
        app.include_router(module.router)
    app.include_router(routes_chart.router)  # /chart: the MRR picture (etl.report.chart)
    app.openapi = _openapi(app)  # type: ignore[method-assign]
    https = require_https if require_https is not None else bool(settings.require_https)
    app.add_middleware(RequestMiddleware, state=state, require_https=https)
    return app
