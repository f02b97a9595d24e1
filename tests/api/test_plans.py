"""/v2/plans: create (defaults, validation, 409), retrieve, list with pagination."""

from __future__ import annotations

from fastapi.testclient import TestClient

from etl.bootstrap import Container
from tests.api.conftest import add_plans


def test_create_with_defaults_and_conflict(client: TestClient, container: Container) -> None:
    r = client.post(
        "/v2/plans",
        data={"id": "the-plan", "amount": "2000", "name": "The Plan", "currency": "eur"},
    )
    assert r.status_code == 200, r.text
    assert r.json() == {
        "id": "the-plan",
        "object": "plan",
        "amount": 2000,
        "currency": "eur",
        "interval": "month",
        "interval_count": 1,
        "name": "The Plan",
    }
    assert client.get("/v2/plans/the-plan").json() == r.json()
    r = client.post("/v2/plans", json={"id": "the-plan", "amount": 1, "name": "again"})
    assert r.status_code == 409 and r.json()["error"]["param"] == "id"
    add_plans(
        container.engine, [{"id": "price_1", "amount": 900, "interval": "month", "name": "Stripe"}]
    )
    r = client.post("/v2/plans", json={"id": "price_1", "amount": 1, "name": "dup of stripe"})
    assert r.status_code == 409
    r = client.post(
        "/v2/plans",
        json={
            "id": "yearly",
            "amount": 12000,
            "name": "Yearly",
            "interval": "year",
            "interval_count": 1,
        },
    )
    assert r.json()["interval"] == "year" and r.json()["currency"] == "usd"


def test_validation(client: TestClient) -> None:
    base = {"id": "p", "amount": 100, "name": "P"}
    cases = [
        ({"amount": 100, "name": "P"}, "id"),
        ({"id": "p", "name": "P"}, "amount"),
        ({"id": "p", "amount": 100}, "name"),
        ({**base, "amount": -1}, "amount"),
        ({**base, "amount": "12.5"}, "amount"),
        ({**base, "interval": "fortnight"}, "interval"),
        ({**base, "interval_count": 0}, "interval_count"),
        ({**base, "currency": "dollars"}, "currency"),
        ({**base, "currency": "zzz"}, "currency"),
        ({**base, "id": "a/b"}, "id"),
        ({**base, "extra": 1}, "extra"),
    ]
    for data, param in cases:
        r = client.post("/v2/plans", json=data)
        assert r.status_code == 400, (data, r.text)
        assert r.json()["error"]["param"] == param, (data, r.json())
    r = client.post("/v2/plans", data={**base, "interval_count": "two"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "interval_count"


def test_retrieve_unknown_is_404(client: TestClient) -> None:
    r = client.get("/v2/plans/nope")
    assert r.status_code == 404
    assert r.json()["error"]["message"]


def test_list_pagination_and_one_time_prices_left_out(
    client: TestClient, container: Container
) -> None:
    add_plans(
        container.engine,
        [
            {"id": f"plan_{i:02}", "amount": 100 * i, "interval": "month", "name": f"P{i}"}
            for i in range(12)
        ]
        + [
            {
                "id": "price_once",
                "amount": 5000,
                "type": "one_time",
                "interval": None,
                "name": "Setup",
            }
        ],
    )
    page1 = client.get("/v2/plans", params={"limit": 5}).json()
    assert [p["id"] for p in page1["data"]] == [f"plan_{i:02}" for i in range(5)]
    assert page1["has_more"] is True
    page2 = client.get("/v2/plans", params={"limit": 5, "starting_after": "plan_04"}).json()
    assert [p["id"] for p in page2["data"]] == [f"plan_{i:02}" for i in range(5, 10)]
    page3 = client.get("/v2/plans", params={"limit": 5, "starting_after": "plan_09"}).json()
    assert [p["id"] for p in page3["data"]] == ["plan_10", "plan_11"]
    assert page3["has_more"] is False
    assert client.get("/v2/plans", params={"starting_after": "zzz"}).json()["data"] == []
    assert client.get("/v2/plans/price_once").status_code == 404
    assert client.get("/v2/plans", params={"limit": 101}).status_code == 400
