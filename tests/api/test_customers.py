"""/v2/customers: create, lookups, partial update, conflicts, validation, filters, pagination."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from etl.bootstrap import Container
from etl.db import tables
from tests.api.conftest import add_customers, add_snapshot

CUSTOMERS = tables.customers
FIELDS = {
    "id",
    "stripe_id",
    "extra_id",
    "email",
    "name",
    "total_contract_value",
    "current_mrr",
    "current_subscription_count",
    "currency",
    "country",
    "state",
}


def test_create_form_encoded_and_json(client: TestClient, container: Container) -> None:
    r = client.post("/v2/customers", data={"email": "customer@company.com", "name": "Ann"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == FIELDS
    assert body["email"] == "customer@company.com" and body["name"] == "Ann"
    assert body["stripe_id"] is None
    assert body["current_mrr"] == 0 and body["total_contract_value"] == 0
    r2 = client.post(
        "/v2/customers",
        json={"email": "b@company.com", "extra_id": "Team B", "country": "fi", "currency": "EUR"},
    )
    assert r2.status_code == 200, r2.text
    assert r2.json()["country"] == "FI" and r2.json()["currency"] == "eur"
    assert r2.json()["id"] > body["id"]
    with container.engine.connect() as conn:
        row = conn.execute(select(CUSTOMERS).where(CUSTOMERS.c.id == body["id"])).one()
    assert row.source == "api" and row.stripe_id is None and row.email_key == "customer@company.com"


def test_duplicate_email_is_409_case_insensitive(client: TestClient, container: Container) -> None:
    add_customers(container.engine, [{"stripe_id": "cus_A", "email": "Taken@Example.com"}])
    r = client.post("/v2/customers", data={"email": "taken@example.COM"})
    assert r.status_code == 409
    assert r.json()["error"]["param"] == "email"
    other = client.post("/v2/customers", data={"email": "free@example.com"}).json()
    r = client.put(f"/v2/customers/{other['id']}", data={"email": "TAKEN@example.com"})
    assert r.status_code == 409 and r.json()["error"]["param"] == "email"
    # Its own email, in another case, is not a conflict.
    r = client.put(f"/v2/customers/{other['id']}", data={"email": "FREE@example.com"})
    assert r.status_code == 200 and r.json()["email"] == "FREE@example.com"


def test_validation_names_the_param(client: TestClient) -> None:
    cases = [
        ({}, "email"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@b.co", "country": "USA"}, "country"),
        ({"email": "a@b.co", "country": "XX"}, "country"),
        ({"email": "a@b.co", "currency": "abc"}, "currency"),
        ({"email": "a@b.co", "extra_id": "x" * 300}, "extra_id"),
        ({"email": "a@b.co", "color": "red"}, "color"),
        ({"email": "a@b.co", "name": "nul\x00byte"}, "name"),
    ]
    for data, param in cases:
        r = client.post("/v2/customers", json=data)
        assert r.status_code == 400, (data, r.text)
        err = r.json()["error"]
        assert err["param"] == param and err["type"] == "invalid_request_error", (data, err)
    r = client.post("/v2/customers", json={"email": 42})
    assert r.status_code == 400 and r.json()["error"]["param"] == "email"
    r = client.post(
        "/v2/customers", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 400
    r = client.post("/v2/customers", json=["a@b.co"])
    assert r.status_code == 400


def test_lookups(client: TestClient, container: Container) -> None:
    ids = add_customers(
        container.engine,
        [
            {"stripe_id": "cus_1", "email": "one@example.com", "extra_id": "shared"},
            {"stripe_id": "cus_2", "email": "two@example.com", "extra_id": "shared"},
        ],
    )
    add_snapshot(
        container.engine,
        ids[1],
        currency="usd",
        current_mrr=69900,
        current_subscription_count=1,
        total_contract_value=629100,
    )
    assert client.get(f"/v2/customers/{ids[1]}").json()["stripe_id"] == "cus_2"
    got = client.get("/v2/customers/cus_2").json()
    assert got["id"] == ids[1]
    assert got["current_mrr"] == 69900 and got["total_contract_value"] == 629100
    assert got["current_subscription_count"] == 1 and got["currency"] == "usd"
    assert client.get("/v2/customers/shared").json()["id"] == ids[0]  # the first match
    assert client.get("/v2/customers/TWO@example.com").json()["id"] == ids[1]
    r = client.get("/v2/customers/cus_nope")
    assert r.status_code == 404 and r.json()["error"]["type"] == "invalid_request_error"
    assert client.get("/v2/customers/99999999999999999999999").status_code == 404


def test_partial_update(client: TestClient, container: Container) -> None:
    (cid,) = add_customers(
        container.engine,
        [
            {
                "stripe_id": "cus_X",
                "email": "x@example.com",
                "name": "Xavier",
                "country": "US",
                "state": "OH",
            }
        ],
    )
    r = client.put("/v2/customers/cus_X", data={"extra_id": "Team X"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["extra_id"] == "Team X"
    assert (body["name"], body["email"], body["country"], body["state"]) == (
        "Xavier",
        "x@example.com",
        "US",
        "OH",
    )
    r = client.put(f"/v2/customers/{cid}", json={"name": "X. Ray", "state": ""})
    assert r.json()["name"] == "X. Ray" and r.json()["state"] is None
    assert r.json()["extra_id"] == "Team X"
    assert client.get("/v2/customers/Team X").json()["id"] == cid
    assert client.put("/v2/customers/cus_none", data={"name": "n"}).status_code == 404
    r = client.put(f"/v2/customers/{cid}", data={"country": "ZZ"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "country"


def test_pagination_across_pages(client: TestClient, container: Container) -> None:
    ids = add_customers(
        container.engine,
        [{"stripe_id": f"cus_{i:03}", "email": f"c{i}@example.com"} for i in range(25)],
    )
    seen: list[int] = []
    after = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 7}
        if after is not None:
            params["starting_after"] = after
        body = client.get("/v2/customers", params=params).json()
        pages += 1
        seen += [c["id"] for c in body["data"]]
        if not body["has_more"]:
            break
        after = body["data"][-1]["id"]
    assert pages == 4
    assert seen == sorted(ids)
    default = client.get("/v2/customers").json()
    assert len(default["data"]) == 10 and default["has_more"] is True
    full = client.get("/v2/customers", params={"limit": 100}).json()
    assert len(full["data"]) == 25 and full["has_more"] is False
    for bad in (0, 101, -1, "ten"):
        r = client.get("/v2/customers", params={"limit": bad})
        assert r.status_code == 400 and r.json()["error"]["param"] == "limit"
    for unknown in ("999999", "cus_000", "abc"):
        body = client.get("/v2/customers", params={"starting_after": unknown}).json()
        assert body == {"object": "list", "has_more": False, "data": []}


def test_filters(client: TestClient, container: Container) -> None:
    ids = add_customers(
        container.engine,
        [
            {"stripe_id": "cus_a", "email": "Alice@Acme.com", "country": "US", "extra_id": "t1"},
            {"stripe_id": "cus_b", "email": "bob@acme.com", "country": "FI", "extra_id": "t2"},
            {"stripe_id": "cus_c", "email": "carol@other.org", "country": "US", "extra_id": "t1"},
            {"stripe_id": "cus_d", "email": "100%_real@x.io", "country": "DE"},
        ],
    )

    def listed(**params: str) -> list[int]:
        r = client.get("/v2/customers", params=params)
        assert r.status_code == 200, r.text
        return [c["id"] for c in r.json()["data"]]

    assert listed(email="ACME") == ids[:2]
    assert listed(email="acme", country="us") == [ids[0]]
    assert listed(country="US") == [ids[0], ids[2]]
    assert listed(extra_id="t1") == [ids[0], ids[2]]
    assert listed(email="%") == [ids[3]]  # LIKE wildcards are matched literally
    assert listed(email="_real") == [ids[3]]
    assert listed(email="nobody") == []
    assert listed(country="US", starting_after=str(ids[0])) == [ids[2]]


def test_created_customer_shows_in_list_at_once(client: TestClient) -> None:
    assert client.get("/v2/customers").json()["data"] == []
    created = client.post("/v2/customers", data={"email": "new@example.com"}).json()
    assert [c["id"] for c in client.get("/v2/customers").json()["data"]] == [created["id"]]


def test_json_nulls_clear_and_integer_extra_id(client: TestClient) -> None:
    r = client.post("/v2/customers", json={"email": "n@example.com", "name": None, "extra_id": 77})
    assert r.status_code == 200, r.text
    assert r.json()["name"] is None and r.json()["extra_id"] == "77"
    r = client.put("/v2/customers/77", json={"extra_id": None, "name": "Named"})
    assert r.status_code == 200
    assert r.json()["extra_id"] is None and r.json()["name"] == "Named"
    r = client.put("/v2/customers/n@example.com", json={"email": None})
    assert r.status_code == 400 and r.json()["error"]["param"] == "email"


def test_email_whose_lower_case_is_longer_still_fits(client: TestClient) -> None:
    # "İ".lower() is two characters: the stored lower-case key must still fit its column.
    long_email = "İ" * 250 + "@example.com"
    r = client.post("/v2/customers", json={"email": long_email})
    assert r.status_code == 400 and r.json()["error"]["param"] == "email"
    r = client.post("/v2/customers", json={"email": "İ" * 100 + "@example.com"})
    assert r.status_code == 200, r.text
