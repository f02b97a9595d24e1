"""/v2/mrr, /v2/mrr/<month>, /v2/mrr_by_plan served from snapshot rows."""

from __future__ import annotations

from datetime import date

from fastapi.testclient import TestClient

from etl.bootstrap import Container
from tests.api.conftest import add_by_plan, add_mrr, by_plan_row, mrr_row

MONTHS = [date(2024 + (m // 12), m % 12 + 1, 1) for m in range(60)]


def _seed_series(container: Container) -> None:
    rows = [mrr_row(m, 1000 * (i + 1), new_mrr=1000, new_customers=1) for i, m in enumerate(MONTHS)]
    rows[-1]["is_current"] = True
    rows[-1]["waiting_mrr"] = 500
    rows[-1]["waiting_subscriptions"] = 2
    rows[5].update(
        reactivation_mrr=300, reactivated_customers=1, expansion_mrr=50, contraction_mrr=20
    )
    eur = [mrr_row(m, 7, currency="eur") for m in MONTHS[:3]]
    add_mrr(container.engine, rows + eur)


def test_all_months_default_series(client: TestClient, container: Container) -> None:
    _seed_series(container)
    r = client.get("/v2/mrr")
    assert r.status_code == 200
    data = r.json()["data"]
    assert len(data) == 60
    assert [d["month"] for d in data] == [m.isoformat() for m in MONTHS]
    assert all(d["currency"] == "usd" and d["object"] == "mrr" for d in data)
    first = data[0]
    assert first["mrr"] == 1000 and first["arr"] == 12000 and first["basis"] == "native"
    assert "waiting_mrr" not in first and "waiting_subscriptions" not in first
    assert data[-1]["waiting_mrr"] == 500 and data[-1]["waiting_subscriptions"] == 2
    six = data[5]
    assert (six["reactivation_mrr"], six["reactivated_customers"]) == (300, 1)
    assert (six["expansion_mrr"], six["contraction_mrr"]) == (50, 20)
    eur = client.get("/v2/mrr", params={"currency": "EUR"}).json()["data"]
    assert [d["mrr"] for d in eur] == [7, 7, 7] and eur[0]["currency"] == "eur"
    assert client.get("/v2/mrr", params={"currency": "gbp"}).json() == {"data": []}
    r = client.get("/v2/mrr", params={"currency": "12"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "currency"


def test_reporting_series_is_the_default_when_present(
    client: TestClient, container: Container
) -> None:
    add_mrr(
        container.engine,
        [
            mrr_row(date(2026, 1, 1), 900, currency="eur"),
            mrr_row(date(2026, 1, 1), 100, currency="usd"),
            mrr_row(
                date(2026, 1, 1),
                1090,
                currency="usd",
                basis="reporting",
                fx_impact_mrr=5,
                missing_rates='["gbp"]',
            ),
        ],
    )
    (row,) = client.get("/v2/mrr").json()["data"]
    assert row["basis"] == "reporting" and row["mrr"] == 1090
    assert row["fx_impact_mrr"] == 5 and row["missing_rates"] == ["gbp"]
    native = client.get("/v2/mrr/2026-01", params={"currency": "usd"}).json()
    assert native["mrr"] == 100 and native["basis"] == "native"


def test_main_currency_without_reporting_rows(client: TestClient, container: Container) -> None:
    add_mrr(
        container.engine,
        [
            mrr_row(date(2026, 1, 1), 900, currency="eur"),
            mrr_row(date(2026, 1, 1), 100, currency="usd"),
        ],
    )
    (row,) = client.get("/v2/mrr").json()["data"]
    assert row["currency"] == "eur" and row["mrr"] == 900


def test_one_month_formats(client: TestClient, container: Container) -> None:
    _seed_series(container)
    expected = client.get("/v2/mrr").json()["data"][3]
    for form in ("2024-04-01", "2024-04-17", "2024-04", "202404", "2024-04-01T00:00:00.000Z"):
        r = client.get(f"/v2/mrr/{form}")
        assert r.status_code == 200, form
        assert r.json() == expected, form
    assert client.get("/v2/mrr/1999-01-01").json() == {}
    for bad in ("2024-13-01", "2024-02-30", "April", "20244", "2024-4"):
        r = client.get(f"/v2/mrr/{bad}")
        assert r.status_code == 400, bad
        assert r.json()["error"]["param"] == "month"
    current = client.get(f"/v2/mrr/{MONTHS[-1].isoformat()}").json()
    assert current["waiting_mrr"] == 500


def test_mrr_by_plan(client: TestClient, container: Container) -> None:
    add_by_plan(
        container.engine,
        [
            by_plan_row(date(2019, 2, 1), "enterprise_2_monthly_1501", 24950),
            by_plan_row(date(2019, 2, 1), "business monthly", 24900),
            by_plan_row(date(2019, 1, 1), "business monthly", 20000),
            by_plan_row(date(2019, 3, 1), "business monthly", 26000, currency="usd"),
            by_plan_row(date(2019, 2, 1), "eur_plan", 100, currency="eur"),
        ],
    )
    r = client.get(
        "/v2/mrr_by_plan", params={"start_month": "2019-01-01", "end_month": "2019-02-01"}
    )
    assert r.status_code == 200
    rows = r.json()
    assert [(x["month"], x["plan_eid"]) for x in rows] == [
        ("2019-01-01T00:00:00.000Z", "business monthly"),
        ("2019-02-01T00:00:00.000Z", "business monthly"),
        ("2019-02-01T00:00:00.000Z", "enterprise_2_monthly_1501"),
        ("2019-02-01T00:00:00.000Z", "eur_plan"),
    ]
    assert rows[1]["total_mrr"] == 24900 and rows[1]["plan_name"] == "Plan business monthly"
    only_eur = client.get("/v2/mrr_by_plan", params={"currency": "eur"}).json()
    assert [x["plan_eid"] for x in only_eur] == ["eur_plan"]
    assert len(client.get("/v2/mrr_by_plan").json()) == 5
    assert len(client.get("/v2/mrr_by_plan", params={"start_month": "201903"}).json()) == 1
    r = client.get("/v2/mrr_by_plan", params={"start_month": "2019-03", "end_month": "2019-01"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "end_month"
    r = client.get("/v2/mrr_by_plan", params={"start_month": "soon"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "start_month"
