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
    # Metric views (issue 5). `mrr_monthly` and `mrr_by_plan` are tables; these views put
    # them in the shape analysts chart, with names that do not clash.
    View(
        name="mrr_movements",
        comment="The MRR bridge per month and currency: starting MRR, each movement, ending MRR.",
        columns={
            "month": "first day of the month",
            "currency": "currency; basis=reporting rows are converted totals",
            "basis": "native (one currency) or reporting (converted)",
            "starting_mrr": "MRR at the end of the previous month",
            "new_mrr": "MRR of customers paying for the first time",
            "reactivation_mrr": "MRR of customers returning after a gap",
            "expansion_mrr": "increases of customers paying in both months",
            "contraction_mrr": "decreases of customers paying in both months",
            "churned_mrr": "MRR of customers who stopped paying",
            "fx_impact_mrr": "reporting basis: change due to exchange rates (0 for native)",
            "ending_mrr": "MRR at the end of the month, including waiting renewals",
            "net_new_mrr": "ending_mrr − starting_mrr",
            "mrr": "MRR charged (without waiting renewals)",
            "waiting_mrr": "current month: renewals expected but not yet paid",
            "customers": "customers with MRR",
            "is_current": "the month is not over yet",
        },
        select="""
SELECT m.month, m.currency, m.basis,
       m.mrr + m.waiting_mrr - (m.new_mrr + m.expansion_mrr - m.contraction_mrr
                                - m.lost_mrr + m.fx_impact_mrr) AS starting_mrr,
       m.new_mrr - m.reactivation_mrr AS new_mrr,
       m.reactivation_mrr, m.expansion_mrr, m.contraction_mrr,
       m.lost_mrr AS churned_mrr, m.fx_impact_mrr,
       m.mrr + m.waiting_mrr AS ending_mrr,
       m.new_mrr + m.expansion_mrr - m.contraction_mrr - m.lost_mrr + m.fx_impact_mrr
           AS net_new_mrr,
       m.mrr, m.waiting_mrr, m.customers, m.is_current
FROM mrr_monthly m
""".strip(),
    ),
    View(
        name="customer_mrr_monthly",
        comment="MRR of each customer per month and currency, with who the customer is.",
        columns={
            "month": "first day of the month",
            "customer_id": "customers.id",
            "stripe_id": "Stripe customer id",
            "email": "email",
            "name": "name",
            "currency": "currency",
            "mrr": "MRR at the end of the month (cents)",
            "previous_mrr": "MRR at the end of the previous month",
            "movement": "new, reactivation, expansion, contraction, churn or NULL",
            "movement_mrr": "size of the movement (positive)",
            "subscriptions": "distinct subscriptions contributing MRR",
            "waiting_mrr": "current month: renewals expected but not yet paid",
            "arr": "12 × mrr",
        },
        select="""
SELECT cm.month, cm.customer_id, c.stripe_id, c.email, c.name, cm.currency, cm.mrr,
       cm.previous_mrr, cm.movement, cm.movement_mrr, cm.subscriptions, cm.waiting_mrr,
       12 * cm.mrr AS arr
FROM customer_mrr cm
JOIN customers c ON c.id = cm.customer_id
""".strip(),
    ),
    View(
        name="plan_mrr_monthly",
        comment="MRR by plan per month, with the plan's price and billing interval.",
        columns={
            "month": "first day of the month",
            "plan_id": "plans.id",
            "plan_name": "plan name",
            "currency": "currency of the figures",
            "amount": "the plan's unit amount (cents)",
            "interval": "day, week, month or year",
            "interval_count": "intervals per billing period",
            "beginning_mrr": "the plan's MRR at the end of the previous month",
            "new_mrr": "MRR of new and returning customers",
            "upgrade_mrr": "increases on the plan",
            "downgrade_mrr": "decreases on the plan",
            "moved_in_mrr": "MRR of customers who came from another plan",
            "moved_out_mrr": "MRR of customers who left for another plan",
            "lost_mrr": "MRR of customers who stopped paying",
            "total_mrr": "the plan's MRR at the end of the month",
            "total_customers": "customers with MRR on the plan",
            "waiting_mrr": "current month: renewals expected but not yet paid",
            "end_of_term_mrr": "total_mrr + waiting_mrr",
        },
        select="""
SELECT b.month, b.plan_id, COALESCE(b.plan_name, p.name) AS plan_name, b.currency,
       p.amount, p.interval, p.interval_count, b.beginning_mrr, b.new_mrr, b.upgrade_mrr,
       b.downgrade_mrr, b.moved_in_mrr, b.moved_out_mrr, b.lost_mrr, b.total_mrr,
       b.total_customers, b.waiting_mrr, b.end_of_term_mrr
FROM mrr_by_plan b
LEFT JOIN plans p ON p.id = b.plan_id
""".strip(),
    ),
]
