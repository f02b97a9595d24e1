"""/v2/invoices: imports feed the metrics before the response; deletes take them out again."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient

from etl.bootstrap import Container
from etl.db import tables
from tests.api.conftest import NOW, add_customers

INVOICES = tables.invoices
FIELDS = {
    "id",
    "subscription_id",
    "object",
    "amount_paid",
    "discount",
    "amount",
    "currency",
    "customer",
    "plan",
    "date_paid",
    "date",
    "quantity",
    "period_start",
    "period_end",
    "description",
}


def _this_month() -> str:
    return datetime.now(UTC).strftime("%Y-%m-01")


def _setup(client: TestClient, container: Container) -> int:
    (cid,) = add_customers(
        container.engine, [{"stripe_id": "cus_ABCD", "email": "abcd@example.com"}]
    )
    r = client.post("/v2/plans", data={"id": "hobby_monthly", "amount": "2900", "name": "Hobby"})
    assert r.status_code == 200
    return cid


def test_plan_invoice_makes_mrr_and_delete_removes_it(
    client: TestClient, container: Container
) -> None:
    cid = _setup(client, container)
    r = client.post(
        "/v2/invoices", data={"customer": "cus_ABCD", "plan": "hobby_monthly", "id": "inv-1"}
    )
    assert r.status_code == 200, r.text
    inv = r.json()
    assert set(inv) == FIELDS
    assert inv["id"] == "inv-1" and inv["customer"] == "cus_ABCD" and inv["plan"] == "hobby_monthly"
    assert (inv["amount"], inv["discount"], inv["amount_paid"], inv["quantity"]) == (
        2900,
        0,
        2900,
        1,
    )
    assert inv["currency"] == "usd" and inv["period_end"] > inv["period_start"]
    # The response returns after the recompute: the metrics already include the invoice.
    cust = client.get("/v2/customers/cus_ABCD").json()
    assert cust["current_mrr"] == 2900 and cust["current_subscription_count"] == 1
    assert cust["total_contract_value"] == 2900
    month = client.get(f"/v2/mrr/{_this_month()}").json()
    assert month["mrr"] == 2900 and month["new_customers"] == 1
    assert client.get("/v2/invoices/inv-1").json() == inv

    r = client.delete("/v2/invoices/inv-1")
    assert r.status_code == 200 and r.json() == {"deleted": True, "id": "inv-1"}
    cust = client.get(f"/v2/customers/{cid}").json()
    assert cust["current_mrr"] == 0 and cust["total_contract_value"] == 0
    assert cust["current_subscription_count"] == 0
    assert client.get(f"/v2/mrr/{_this_month()}").json().get("mrr", 0) == 0
    assert client.get("/v2/invoices/inv-1").status_code == 404
    assert client.delete("/v2/invoices/inv-1").status_code == 404


def test_invoice_without_plan_is_revenue_not_mrr(client: TestClient, container: Container) -> None:
    _setup(client, container)
    client.post(
        "/v2/invoices",
        json={"customer": "abcd@example.com", "plan": "hobby_monthly", "quantity": 2},
    )
    before = client.get("/v2/customers/cus_ABCD").json()
    assert before["current_mrr"] == 5800
    r = client.post("/v2/invoices", json={"customer": "cus_ABCD", "amount": 10000, "discount": 500})
    assert r.status_code == 200, r.text
    one_time = r.json()
    assert one_time["plan"] is None and one_time["amount_paid"] == 9500
    after = client.get("/v2/customers/cus_ABCD").json()
    assert after["current_mrr"] == 5800
    assert after["total_contract_value"] == before["total_contract_value"] + 9500
    assert client.get(f"/v2/mrr/{_this_month()}").json()["mrr"] == 5800


def test_conflict_and_validation(client: TestClient, container: Container) -> None:
    _setup(client, container)
    assert (
        client.post(
            "/v2/invoices", data={"customer": "cus_ABCD", "amount": "100", "id": "dup"}
        ).status_code
        == 200
    )
    r = client.post("/v2/invoices", data={"customer": "cus_ABCD", "amount": "100", "id": "dup"})
    assert r.status_code == 409 and r.json()["error"]["param"] == "id"
    cases = [
        ({"amount": 100}, "customer"),
        ({"customer": "cus_nobody", "amount": 100}, "customer"),
        ({"customer": "cus_ABCD", "plan": "no_such_plan"}, "plan"),
        ({"customer": "cus_ABCD"}, "amount"),
        ({"customer": "cus_ABCD", "amount": -5}, "amount"),
        ({"customer": "cus_ABCD", "amount": "ten"}, "amount"),
        ({"customer": "cus_ABCD", "amount": 100, "discount": 200}, "discount"),
        ({"customer": "cus_ABCD", "amount": 100, "date_paid": "yesterday"}, "date_paid"),
        ({"customer": "cus_ABCD", "amount": 100, "date_paid": "2016-02-30T00:00:00Z"}, "date_paid"),
        ({"customer": "cus_ABCD", "amount": 100, "currency": "xyz"}, "currency"),
        ({"customer": "cus_ABCD", "plan": "hobby_monthly", "quantity": 0}, "quantity"),
        (
            {
                "customer": "cus_ABCD",
                "plan": "hobby_monthly",
                "period_start": "2016-05-05T00:00:00Z",
                "period_end": "2016-04-05T00:00:00Z",
            },
            "period_end",
        ),
        ({"customer": "cus_ABCD", "amount": 100, "id": "a b"}, "id"),
        ({"customer": "cus_ABCD", "amount": 100, "colour": "red"}, "colour"),
    ]
    for data, param in cases:
        r = client.post("/v2/invoices", json=data)
        assert r.status_code == 400, (data, r.text)
        assert r.json()["error"]["param"] == param, (data, r.json())
    assert len(client.get("/v2/invoices").json()["data"]) == 1  # nothing half-written


def test_explicit_dates_and_seed_shape(client: TestClient, container: Container) -> None:
    _setup(client, container)
    r = client.post(
        "/v2/invoices",
        data={
            "customer": "cus_ABCD",
            "plan": "hobby_monthly",
            "amount": "2900",
            "date_paid": "2016-05-05T10:26:26+00:00",
            "id": "1462443986",
            "description": "May",
        },
    )
    assert r.status_code == 200, r.text
    inv = r.json()
    assert inv["date_paid"] == inv["date"] == inv["period_start"] == "2016-05-05T10:26:26+00:00"
    assert inv["period_end"] == "2016-06-05T10:26:26+00:00"
    assert inv["description"] == "May"
    may = client.get("/v2/mrr/2016-05").json()
    assert may["mrr"] == 2900
    assert client.get("/v2/mrr/2016-06").json().get("mrr", 0) == 0  # not renewed: lost in June


def test_only_imported_invoices_are_listed(client: TestClient, container: Container) -> None:
    cid = _setup(client, container)
    with container.engine.begin() as conn:
        conn.execute(
            INVOICES.insert().values(
                id="in_stripe_1",
                source="stripe",
                customer_id=cid,
                status="paid",
                currency="usd",
                subtotal=100,
                discount=0,
                tax=0,
                total=100,
                amount_due=100,
                amount_paid=100,
                lines_complete=True,
                updated_at=NOW,
            )
        )
    ids = [f"m{i:02}" for i in range(12)]
    for i in ids:
        r = client.post("/v2/invoices", data={"customer": "cus_ABCD", "amount": "100", "id": i})
        assert r.status_code == 200
    seen: list[str] = []
    after: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 5}
        if after:
            params["starting_after"] = after
        page = client.get("/v2/invoices", params=params).json()
        seen += [x["id"] for x in page["data"]]
        if not page["has_more"]:
            break
        after = page["data"][-1]["id"]
    assert seen == ids
    assert client.get("/v2/invoices/in_stripe_1").status_code == 404
    assert client.delete("/v2/invoices/in_stripe_1").status_code == 404
    assert client.get("/v2/invoices", params={"starting_after": "in_stripe_1"}).json()["data"] == []
    assert client.get("/v2/invoices", params={"limit": 0}).status_code == 400


def test_integer_ids_in_json(client: TestClient, container: Container) -> None:
    cid = _setup(client, container)
    r = client.post("/v2/invoices", json={"customer": cid, "amount": 100, "id": 1462443986})
    assert r.status_code == 200, r.text
    assert r.json()["id"] == "1462443986" and r.json()["customer"] == "cus_ABCD"
    assert client.get("/v2/invoices/1462443986").status_code == 200
