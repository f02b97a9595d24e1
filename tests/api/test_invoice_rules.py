"""One validator for POST /v2/invoices and `etl import-invoices`: the same bounds and rules."""

from __future__ import annotations

from fastapi.testclient import TestClient

from etl.bootstrap import Container
from etl.imports.invoice_fields import MAX_AMOUNT
from etl.imports.invoices import validate_invoice_input
from tests.api.conftest import NOW, add_customers


def _file_errors(container: Container, row: dict[str, object]) -> list[tuple[str, bool]]:
    with container.engine.begin() as conn:
        _valid, errors = validate_invoice_input(conn, container.settings, [row], now=NOW)
    return [(e.param, e.conflict) for e in errors]


def test_api_and_file_import_share_the_amount_bound(
    client: TestClient, container: Container
) -> None:
    add_customers(container.engine, [{"stripe_id": "cus_R", "email": "r@example.com"}])
    at_bound = {"customer": "cus_R", "amount": MAX_AMOUNT}
    beyond = {"customer": "cus_R", "amount": MAX_AMOUNT + 1}
    assert _file_errors(container, at_bound) == []
    assert _file_errors(container, beyond) == [("amount", False)]
    r = client.post("/v2/invoices", json=beyond)
    assert r.status_code == 400 and r.json()["error"]["param"] == "amount"
    assert client.post("/v2/invoices", json={**at_bound, "id": "big"}).status_code == 200
    # The id imported before: a conflict for the API, a duplicate for a file.
    assert _file_errors(container, {**at_bound, "id": "big"}) == [("id", True)]
    assert client.post("/v2/invoices", json={**at_bound, "id": "big"}).status_code == 409


def test_text_unfit_to_store_is_refused_before_any_lookup(
    client: TestClient, container: Container
) -> None:
    cases = [
        ({"customer": "cus\x00R", "amount": 1}, "customer"),
        ({"customer": "x" * 321, "amount": 1}, "customer"),
        ({"customer": "cus_R", "amount": 1, "description": ["a"]}, "description"),
        ({"customer": "cus_R", "amount": 1, "plan": {"id": "p"}}, "plan"),
    ]
    for row, param in cases:
        assert _file_errors(container, row) == [(param, False)], row
        r = client.post("/v2/invoices", json=row)
        assert r.status_code == 400 and r.json()["error"]["param"] == param, (row, r.text)
