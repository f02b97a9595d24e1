"""The OpenAPI document, and the seed's example responses against the response models."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, TypeAdapter, ValidationError

from etl.api import examples, schemas

EXTRA_MRR_FIELDS = {
    "reactivation_mrr",
    "reactivated_customers",
    "expansion_mrr",
    "contraction_mrr",
    "change_in_mrr",
    "customers",
    "arr",
    "arpa",
    "basis",
    "fx_impact_mrr",
    "missing_rates",
    "waiting_mrr",
    "waiting_subscriptions",
}


def _model(name: str) -> Any:
    if name.endswith("[]"):
        return TypeAdapter(list[getattr(schemas, name[:-2])])
    return getattr(schemas, name)


@pytest.mark.parametrize("label", sorted(examples.RESPONSE_EXAMPLES))
def test_seed_examples_validate(label: str) -> None:
    name, example = examples.RESPONSE_EXAMPLES[label]
    model = _model(name)
    if isinstance(model, TypeAdapter):
        model.validate_python(example)
    else:
        model.model_validate(example)


def _fields(model: type[BaseModel]) -> set[str]:
    return set(model.model_fields)


def test_field_sets_are_the_seeds() -> None:
    assert _fields(schemas.Customer) == set(examples.CUSTOMER)
    assert _fields(schemas.Plan) == set(examples.PLAN)
    assert _fields(schemas.Invoice) == set(examples.INVOICE_OBJECT)
    assert _fields(schemas.CustomerList) == set(examples.CUSTOMER_LIST)
    assert _fields(schemas.DeletedInvoice) == set(examples.INVOICE_DELETED)
    seed_mrr = set(examples.MRR) | set(examples.MRR_LIST["data"][0])
    # The MRR object is the seed's plus the extra fields of the metric rules, nothing else.
    assert _fields(schemas.Mrr) == seed_mrr | EXTRA_MRR_FIELDS
    by_plan_extra = {
        "currency",
        "new_customers",
        "beginning_customers",
        "expansion_mrr",
        "contraction_mrr",
    }
    assert _fields(schemas.MrrByPlan) == set(examples.MRR_BY_PLAN[0]) | by_plan_extra


def test_models_reject_unknown_fields() -> None:
    with pytest.raises(ValidationError, match="surprise"):
        schemas.Customer.model_validate({**examples.CUSTOMER, "surprise": 1})


def test_document(client: TestClient) -> None:
    doc = client.get("/v2/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    ops = {(p, m) for p, item in doc["paths"].items() for m in item}
    assert ops == {
        ("/v2/customers", "get"),
        ("/v2/customers", "post"),
        ("/v2/customers/{id}", "get"),
        ("/v2/customers/{id}", "put"),
        ("/v2/mrr", "get"),
        ("/v2/mrr/{month}", "get"),
        ("/v2/mrr_by_plan", "get"),
        ("/v2/invoices", "get"),
        ("/v2/invoices", "post"),
        ("/v2/invoices/{id}", "get"),
        ("/v2/invoices/{id}", "delete"),
        ("/v2/plans", "get"),
        ("/v2/plans", "post"),
        ("/v2/plans/{id}", "get"),
        ("/healthz", "get"),
    }
    schemes = doc["components"]["securitySchemes"]
    assert set(schemes) == {"basicAuth", "bearerAuth", "tokenAuth"}
    for path, method in ops:
        op = doc["paths"][path][method]
        assert op.get("description") or op.get("summary")
        assert "422" not in op["responses"]
        if path.startswith("/v2/"):
            assert {"200", "400", "401", "500"} <= set(op["responses"])
            assert op["security"]
    post = doc["paths"]["/v2/customers"]["post"]["requestBody"]["content"]
    assert set(post) == {"application/json", "application/x-www-form-urlencoded"}
    example = doc["paths"]["/v2/customers/{id}"]["get"]["responses"]["200"]["content"][
        "application/json"
    ]["example"]
    assert example == examples.CUSTOMER
    assert "currency" in doc["paths"]["/v2/mrr"]["get"]["description"].lower()
