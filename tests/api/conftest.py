"""Fixtures of the API tests: an app over a real database (both backends), keys, seed rows."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from etl.api.app import create_app
from etl.api.keys import create_key
from etl.bootstrap import Container, bootstrap
from etl.config import load_settings
from etl.db import tables

NOW = datetime(2026, 11, 21, 12, 0, 0)


@pytest.fixture
def container(db_url: str) -> Iterator[Container]:
    c = bootstrap(load_settings(database_url=db_url), configure_logs=False)
    yield c
    c.close()


@pytest.fixture
def api_key(container: Container) -> str:
    with container.engine.begin() as conn:
        _info, key = create_key(conn, "tests")
    return key


@pytest.fixture
def make_client(container: Container) -> Iterator[Callable[..., TestClient]]:
    clients: list[TestClient] = []

    def make(key: str | None = None, **kwargs: Any) -> TestClient:
        app = create_app(container, **kwargs)
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        if key is not None:
            client.headers["Authorization"] = f"Bearer {key}"
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient], api_key: str) -> TestClient:
    return make_client(api_key)


def add_customers(engine: Engine, rows: list[dict[str, Any]]) -> list[int]:
    table = tables.customers
    ids = []
    with engine.begin() as conn:
        for r in rows:
            values = {"source": "stripe", "deleted": False, "updated_at": NOW, **r}
            if values.get("email") and "email_key" not in values:
                values["email_key"] = values["email"].lower()
            ids.append(
                conn.execute(table.insert().values(**values).returning(table.c.id)).scalar_one()
            )
    return ids


def add_snapshot(engine: Engine, customer_id: int, **figures: Any) -> None:
    table = tables.customer_snapshots
    with engine.begin() as conn:
        conn.execute(
            table.insert().values(
                **{
                    "customer_id": customer_id,
                    "month": date(2026, 11, 1),
                    "as_of": NOW,
                    "current_mrr": 0,
                    "current_subscription_count": 0,
                    "total_contract_value": 0,
                    "waiting_mrr": 0,
                    **figures,
                }
            )
        )


def add_plans(engine: Engine, rows: list[dict[str, Any]]) -> None:
    table = tables.plans
    with engine.begin() as conn:
        for r in rows:
            conn.execute(
                table.insert().values(
                    **{
                        "source": "stripe_price",
                        "currency": "usd",
                        "type": "recurring",
                        "interval_count": 1,
                        "usage_type": "licensed",
                        "active": True,
                        "deleted": False,
                        "updated_at": NOW,
                        **r,
                    }
                )
            )


def mrr_row(
    month: date, mrr: int, currency: str = "usd", basis: str = "native", **kw: Any
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "month": month,
        "currency": currency,
        "basis": basis,
        "mrr": mrr,
        "subscriptions": 1,
        "customers": 1,
        "new_mrr": 0,
        "new_customers": 0,
        "reactivation_mrr": 0,
        "reactivated_customers": 0,
        "expansion_mrr": 0,
        "contraction_mrr": 0,
        "upgrade_mrr": 0,
        "downgrade_mrr": 0,
        "change_in_mrr": 0,
        "lost_mrr": 0,
        "lost_customers": 0,
        "waiting_mrr": 0,
        "waiting_subscriptions": 0,
        "arr": 12 * mrr,
        "arpa": mrr,
        "fx_impact_mrr": 0,
        "missing_rates": None,
        "is_current": False,
    }
    row.update(kw)
    return row


def add_mrr(engine: Engine, rows: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        conn.execute(tables.mrr_monthly.insert(), rows)


def by_plan_row(
    month: date, plan_id: str, total: int, currency: str = "usd", **kw: Any
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "month": month,
        "plan_id": plan_id,
        "currency": currency,
        "plan_name": f"Plan {plan_id}",
        "total_mrr": total,
        "total_customers": 1,
        "beginning_mrr": 0,
        "beginning_customers": 0,
        "new_mrr": total,
        "new_customers": 1,
        "upgrade_mrr": 0,
        "downgrade_mrr": 0,
        "moved_in_mrr": 0,
        "moved_in_customers": 0,
        "moved_out_mrr": 0,
        "moved_out_customers": 0,
        "expansion_mrr": 0,
        "contraction_mrr": 0,
        "lost_mrr": 0,
        "lost_customers": 0,
        "waiting_mrr": 0,
        "waiting_customers": 0,
        "end_of_term_mrr": total,
        "end_of_term_customers": 1,
    }
    row.update(kw)
    return row


def add_by_plan(engine: Engine, rows: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        conn.execute(tables.mrr_by_plan.insert(), rows)
