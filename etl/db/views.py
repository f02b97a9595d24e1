"""Views for analysts. Each view's SQL must run unchanged on SQLite and PostgreSQL.

Adding a view: append a View here; `init-db` creates it, `schema.sql` documents it
(regenerate with `python -m etl.db.schema > schema.sql`).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class View:
    name: str
    comment: str
    columns: dict[str, str] = field(default_factory=dict)  # column -> comment, in order
    select: str = ""


VIEWS: list[View] = [
    View(
        name="customer_overview",
        comment="Customers with their current figures, as the API serves them.",
        columns={
            "id": "customers.id",
            "stripe_id": "Stripe customer id",
            "extra_id": "internal id",
            "email": "email",
            "name": "name",
            "currency": "customer currency",
            "country": "country code",
            "state": "US state",
            "deleted": "deleted in Stripe",
            "current_mrr": "MRR in the current month (cents)",
            "current_subscription_count": "subscriptions contributing MRR (0 = lost)",
            "total_contract_value": "net revenue ever, minus refunds and credit notes (cents)",
        },
        select="""
SELECT c.id, c.stripe_id, c.extra_id, c.email, c.name, c.currency, c.country, c.state,
       c.deleted,
       COALESCE(s.current_mrr, 0) AS current_mrr,
       COALESCE(s.current_subscription_count, 0) AS current_subscription_count,
       COALESCE(s.total_contract_value, 0) AS total_contract_value
FROM customers c
LEFT JOIN customer_snapshots s ON s.customer_id = c.id
""".strip(),
    ),
]
