"""Building test data the way the sync and the API store it."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert

from etl.db import tables
from etl.db.models import Customer, Plan
from etl.db.tables import table_of
from etl.periods import add_months

NOW = datetime(2020, 3, 15)
# A copy of shared/reference/mrr-playbook/subscription_periods.csv (MIT, dbt Labs).
PLAYBOOK = Path(__file__).parent / "data" / "mrr_playbook_subscription_periods.csv"


def model_row(model: Any, **values: Any) -> dict[str, Any]:
    obj = model(**values)
    return {c.name: getattr(obj, c.name) for c in table_of(model).columns}


def add_customers(conn: Connection, ids: list[int], **extra: Any) -> None:
    rows = [
        model_row(
            Customer,
            id=i,
            email=f"c{i}@example.com",
            email_key=f"c{i}@example.com",
            source="api",
            updated_at=NOW,
            **extra,
        )
        for i in ids
    ]
    conn.execute(insert(tables.customers), rows)


def add_plan(
    conn: Connection,
    plan_id: str,
    amount: int | None,
    interval: str | None = "month",
    interval_count: int = 1,
    currency: str = "usd",
    **extra: Any,
) -> None:
    values = {
        "id": plan_id,
        "source": "api",
        "name": plan_id,
        "amount": amount,
        "currency": currency,
        "interval": interval,
        "interval_count": interval_count,
        "type": "recurring" if interval else "one_time",
        "updated_at": NOW,
    }
    values.update(extra)
    conn.execute(insert(tables.plans), [model_row(Plan, **values)])


def playbook_periods() -> list[dict[str, str]]:
    with PLAYBOOK.open() as fh:
        return list(csv.DictReader(fh))


def playbook_invoices() -> list[dict[str, Any]]:
    """One paid invoice per month of each period, on a monthly plan of that amount."""
    out = []
    for r in playbook_periods():
        d = datetime.fromisoformat(r["start_date"])
        end = datetime.fromisoformat(r["end_date"])
        while d < end:
            out.append(
                {
                    "id": f"pb{r['subscription_id']}-{d:%Y%m}",
                    "customer": r["customer_id"],
                    "plan": f"monthly_{r['monthly_amount']}",
                    "date_paid": d.isoformat(),
                    "subscription_id": f"pb_sub_{r['subscription_id']}",
                }
            )
            d = add_months(d, 1)
    return out


def load_playbook(conn: Connection) -> list[dict[str, Any]]:
    periods = playbook_periods()
    add_customers(conn, sorted({int(r["customer_id"]) for r in periods}))
    for a in sorted({int(r["monthly_amount"]) for r in periods}):
        add_plan(conn, f"monthly_{a}", a * 100)
    return playbook_invoices()
