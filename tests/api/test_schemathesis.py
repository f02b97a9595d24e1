"""Schemathesis against the OpenAPI document, in process over ASGI, with a valid key.

Every operation gets generated requests (valid and invalid); every response must be
documented by the schema (status, content type, body) and none may be a 5xx. Two
checks are left out on purpose: "positive data acceptance" (a schema cannot say that a
customer must exist or that "jem" is not an ISO 4217 code; those answer 400) and
"negative data rejection" (in a query string a generated null or object serializes to
text that is a valid string, e.g. `starting_after=`, so "accepted" is a false alarm).
Invalid input still runs: it must not cause a 5xx or an undocumented response. Bounded by
`max_examples` so the whole run stays within a minute or two.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from etl.api.app import create_app
from etl.api.keys import create_key
from etl.bootstrap import bootstrap
from etl.config import load_settings
from tests.api.conftest import (
    add_by_plan,
    add_customers,
    add_mrr,
    add_plans,
    add_snapshot,
    by_plan_row,
    mrr_row,
)

MAX_EXAMPLES = 20
PG_MAX_EXAMPLES = 10


@pytest.fixture
def st_app(db_url: str) -> Iterator[tuple[Any, str]]:
    container = bootstrap(load_settings(database_url=db_url), configure_logs=False)
    engine = container.engine
    with engine.begin() as conn:
        _info, key = create_key(conn, "schemathesis")
    ids = add_customers(
        engine,
        [
            {"stripe_id": "cus_A", "email": "a@example.com", "extra_id": "x1", "country": "US"},
            {"stripe_id": "cus_B", "email": "b@example.com", "country": "FI"},
        ],
    )
    add_snapshot(engine, ids[0], currency="usd", current_mrr=1000, current_subscription_count=1)
    add_plans(engine, [{"id": "basic", "amount": 1000, "interval": "month", "name": "Basic"}])
    add_mrr(engine, [mrr_row(date(2026, m, 1), 1000 * m) for m in range(1, 12)])
    add_by_plan(engine, [by_plan_row(date(2026, m, 1), "basic", 1000) for m in range(1, 12)])
    app = create_app(container)
    yield app, key
    app.state.api.refresher.stop()
    container.close()


OPERATIONS = [
    ("GET", "/v2/customers"),
    ("POST", "/v2/customers"),
    ("GET", "/v2/customers/{id}"),
    ("PUT", "/v2/customers/{id}"),
    ("GET", "/v2/mrr"),
    ("GET", "/v2/mrr/{month}"),
    ("GET", "/v2/mrr_by_plan"),
    ("GET", "/v2/plans"),
    ("POST", "/v2/plans"),
    ("GET", "/v2/plans/{id}"),
    ("GET", "/v2/invoices"),
    ("POST", "/v2/invoices"),
    ("GET", "/v2/invoices/{id}"),
    ("DELETE", "/v2/invoices/{id}"),
    ("GET", "/healthz"),
]


def test_every_operation_is_covered(st_app: tuple[Any, str]) -> None:
    app, _key = st_app
    doc = app.openapi()
    assert {(m.upper(), p) for p, item in doc["paths"].items() for m in item} == set(OPERATIONS)


# /healthz has no parameters: there is no invalid request to generate for it.
CASES = [
    (method, path, mode)
    for method, path in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if not (path == "/healthz" and mode is GenerationMode.NEGATIVE)
]


@pytest.mark.parametrize(("method", "path", "mode"), CASES)
def test_api_conforms_to_its_schema(
    st_app: tuple[Any, str], backend: str, method: str, path: str, mode: GenerationMode
) -> None:
    app, key = st_app
    # PostgreSQL is the stricter store (lengths, NUL, encodings); SQLite gets more examples.
    examples = MAX_EXAMPLES if backend == "sqlite" else PG_MAX_EXAMPLES
    operation = schemathesis.openapi.from_asgi("/v2/openapi.json", app)[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def run(case: Any) -> None:
        case.call_and_validate(
            headers={"Authorization": f"Bearer {key}"},
            excluded_checks=[positive_data_acceptance, negative_data_rejection],
        )

    run()
