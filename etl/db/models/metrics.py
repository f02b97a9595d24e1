"""What the metrics stage computes: revenue lines, monthly snapshots, its own state,
and the exchange rates it converts with."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    Date,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlmodel import SQLModel

from etl.db.models.columns import CUR, ID, MONEY, RATE, TEXT, TS, column

# ---------------------------------------------------------------- revenue lines


class RevenueLine(SQLModel, table=True):
    __tablename__ = "revenue_lines"
    __table_args__ = (
        UniqueConstraint("source", "invoice_id", "line_id", name="uq_revenue_line"),
        Index("ix_revenue_lines_customer", "customer_id"),
        Index("ix_revenue_lines_updated", "updated_at"),
        {
            "comment": "One row per invoice line, Stripe and imported alike: the input of every metric."
        },
    )
    id: int | None = column("surrogate key", Integer, pk=True)
    customer_id: int = column("customers.id", Integer, fk="customers.id")
    source: str = column("stripe or manual", String(16))
    invoice_id: str = column("invoices.id", ID, index=True)
    line_id: str = column("invoice_lines.id", ID)
    plan_id: str | None = column(
        "plan/price id; NULL for one-time lines without a plan", ID, nullable=True
    )
    subscription_id: str | None = column("subscription the line belongs to", ID, nullable=True)
    kind: str = column("subscription, proration, metered or one_time", String(16))
    currency: str = column("currency", CUR)
    amount: int = column("line amount before discounts, tax excluded", MONEY)
    discount_amount: int = column("discounts on the line", MONEY, default=0)
    tax_amount: int = column("tax on the line", MONEY, default=0)
    net_amount: int = column("amount − discount_amount (tax excluded)", MONEY)
    quantity: int | None = column("quantity", Integer, nullable=True)
    interval: str | None = column("plan interval: day, week, month, year", String(8), nullable=True)
    interval_count: int | None = column("plan interval count", Integer, nullable=True)
    period_start: datetime | None = column("service period start (inclusive)", TS, nullable=True)
    period_end: datetime | None = column("service period end (exclusive)", TS, nullable=True)
    invoice_status: str = column("status of the invoice: paid, open, …", String(16))
    due_date: datetime | None = column(
        "when the invoice falls due: its due_date, else when it was finalized", TS, nullable=True
    )
    paid_at: datetime | None = column("when the invoice was paid", TS, nullable=True)
    updated_at: datetime = column("last time this row changed", TS)


# ---------------------------------------------------------------- snapshots


class CustomerPlanMrr(SQLModel, table=True):
    __tablename__ = "customer_plan_mrr"
    __table_args__ = (
        Index("ix_customer_plan_mrr_month_plan", "month", "plan_id"),
        {"comment": "MRR per customer, plan and month, with the plan-level movement."},
    )
    customer_id: int = column("customers.id", Integer, pk=True, autoincrement=False)
    plan_id: str = column("plans.id", ID, pk=True)
    month: date = column("first day of the month", Date, pk=True)
    currency: str = column("currency", CUR, pk=True)
    mrr: int = column("MRR at the end of the month, cents", MONEY)
    previous_mrr: int = column("MRR at the end of the previous month", MONEY)
    movement: str | None = column(
        "new, lost, upgrade, downgrade, moved_in, moved_out or NULL", String(16), nullable=True
    )
    waiting_mrr: int = column(
        "current month: expected MRR of renewals not yet paid", MONEY, default=0
    )


class CustomerMrr(SQLModel, table=True):
    __tablename__ = "customer_mrr"
    __table_args__ = (
        Index("ix_customer_mrr_month", "month", "currency"),
        {"comment": "MRR per customer and month, with the customer-level movement."},
    )
    customer_id: int = column("customers.id", Integer, pk=True, autoincrement=False)
    month: date = column("first day of the month", Date, pk=True)
    currency: str = column("currency", CUR, pk=True)
    mrr: int = column("MRR at the end of the month, cents", MONEY)
    previous_mrr: int = column("MRR at the end of the previous month", MONEY)
    movement: str | None = column(
        "new, reactivation, expansion, contraction, churn or NULL", String(16), nullable=True
    )
    movement_mrr: int = column("size of the movement (positive)", MONEY, default=0)
    subscriptions: int = column("distinct subscriptions contributing MRR", Integer, default=0)
    waiting_mrr: int = column(
        "current month: expected MRR of renewals not yet paid", MONEY, default=0
    )
    waiting_subscriptions: int = column(
        "current month: subscriptions waiting for payment", Integer, default=0
    )


class MrrMonthly(SQLModel, table=True):
    __tablename__ = "mrr_monthly"
    __table_args__ = {
        "comment": "MRR and movements per month and currency; basis=reporting rows are converted totals."
    }
    month: date = column("first day of the month", Date, pk=True)
    currency: str = column("currency", CUR, pk=True)
    basis: str = column(
        "native (one currency) or reporting (all currencies converted)", String(16), pk=True
    )
    mrr: int = column("MRR at the end of the month", MONEY)
    subscriptions: int = column("subscriptions contributing MRR", Integer)
    customers: int = column("customers with MRR", Integer)
    new_mrr: int = column("new + reactivation (FirstOfficer's new and returning)", MONEY)
    new_customers: int = column("new and returning customers", Integer)
    reactivation_mrr: int = column("MRR of returning customers", MONEY)
    reactivated_customers: int = column("returning customers", Integer)
    expansion_mrr: int = column("increases of customers paying in both months", MONEY)
    contraction_mrr: int = column("decreases of customers paying in both months", MONEY)
    upgrade_mrr: int = column("= expansion_mrr", MONEY)
    downgrade_mrr: int = column("= contraction_mrr", MONEY)
    change_in_mrr: int = column("expansion − contraction", MONEY)
    lost_mrr: int = column("MRR of customers who stopped paying (churn)", MONEY)
    lost_customers: int = column("customers who stopped paying", Integer)
    waiting_mrr: int = column(
        "current month: expected MRR of renewals not yet paid", MONEY, default=0
    )
    waiting_subscriptions: int = column(
        "current month: subscriptions waiting for payment", Integer, default=0
    )
    arr: int = column("12 × mrr", MONEY)
    arpa: int = column("mrr / customers, rounded half up (0 without customers)", MONEY)
    fx_impact_mrr: int = column(
        "reporting basis: change of MRR due to exchange rates", MONEY, default=0
    )
    missing_rates: str | None = column(
        "reporting basis: currencies left out for lack of a rate", TEXT, nullable=True
    )
    is_current: bool = column("the month of as_of (not yet closed)", Boolean, default=False)


class MrrByPlan(SQLModel, table=True):
    __tablename__ = "mrr_by_plan"
    __table_args__ = {"comment": "MRR and movements per plan and month."}
    month: date = column("first day of the month", Date, pk=True)
    plan_id: str = column("plans.id (FirstOfficer's plan_eid)", ID, pk=True)
    currency: str = column("currency of the figures", CUR, pk=True)
    plan_name: str | None = column("plan name", TEXT, nullable=True)
    total_mrr: int = column("Σ MRR of the plan", MONEY)
    total_customers: int = column("customers with MRR on the plan", Integer)
    beginning_mrr: int = column("the plan's MRR at the end of the previous month", MONEY)
    beginning_customers: int = column("customers at the end of the previous month", Integer)
    new_mrr: int = column("MRR of customers with no MRR last month", MONEY)
    new_customers: int = column("customers with no MRR last month", Integer)
    upgrade_mrr: int = column("increases on the plan", MONEY)
    downgrade_mrr: int = column("decreases on the plan (still on it)", MONEY)
    moved_in_mrr: int = column("MRR of customers who came from another plan", MONEY)
    moved_in_customers: int = column("customers who came from another plan", Integer)
    moved_out_mrr: int = column("MRR of customers who moved to another plan", MONEY)
    moved_out_customers: int = column("customers who moved to another plan", Integer)
    expansion_mrr: int = column("upgrade + moved in", MONEY)
    contraction_mrr: int = column("downgrade + moved out", MONEY)
    lost_mrr: int = column("MRR of customers who stopped paying", MONEY)
    lost_customers: int = column("customers who stopped paying", Integer)
    waiting_mrr: int = column("current month: waiting MRR of the plan", MONEY, default=0)
    waiting_customers: int = column(
        "current month: customers waiting on the plan", Integer, default=0
    )
    end_of_term_mrr: int = column("total_mrr + waiting_mrr", MONEY)
    end_of_term_customers: int = column("total_customers + waiting_customers", Integer)


class CustomerSnapshot(SQLModel, table=True):
    __tablename__ = "customer_snapshots"
    __table_args__ = {"comment": "Per-customer figures served by the API."}
    customer_id: int = column(
        "customers.id", Integer, fk="customers.id", ondelete="CASCADE", pk=True, autoincrement=False
    )
    month: date = column("the current month when computed", Date)
    currency: str | None = column("currency of the figures", CUR, nullable=True)
    current_mrr: int = column("MRR in the current month", MONEY, default=0)
    current_subscription_count: int = column(
        "subscriptions contributing MRR this month (0 = lost)", Integer, default=0
    )
    total_contract_value: int = column(
        "all counted line net amounts ever, minus refunds and credit notes", MONEY, default=0
    )
    waiting_mrr: int = column("expected MRR of renewals not yet paid this month", MONEY, default=0)
    as_of: datetime = column("the `as_of` instant of the computation", TS)


class DirtyCustomer(SQLModel, table=True):
    __tablename__ = "dirty_customers"
    __table_args__ = {"comment": "Customers whose revenue lines changed since the last recompute."}
    customer_id: int = column("customers.id", Integer, pk=True, autoincrement=False)
    marked_at: datetime = column("when the change was recorded", TS)


class RecomputeState(SQLModel, table=True):
    __tablename__ = "recompute_state"
    __table_args__ = {
        "comment": "The last successful recompute (one row): the settings it ran with, which "
        "decide whether the next run may be incremental, and since when inputs count as changed."
    }
    id: int = column("always 1: the table holds one row", Integer, pk=True, autoincrement=False)
    started_at: datetime = column(
        "start of the last successful recompute; inputs updated since are recomputed", TS
    )
    as_of: datetime = column("the `as_of` instant that run computed the metrics at", TS)
    month: date = column("the current month of that run; a new month forces a full run", Date)
    timezone: str = column("reporting time zone of that run", String(64))
    include_tax: bool = column("whether that run counted tax as revenue", Boolean)
    past_due_grace_days: int = column("grace days for open invoices of that run", Integer)
    reporting_currency: str = column("reporting currency of that run's converted totals", CUR)
    full_run: bool = column("that run recomputed every customer", Boolean)
    job_run_id: int | None = column("job_runs.id of that run", Integer, nullable=True)


class FxRate(SQLModel, table=True):
    __tablename__ = "fx_rates"
    __table_args__ = {
        "comment": "Exchange rates: 1 unit of currency = rate units of the reporting currency."
    }
    currency: str = column("currency converted from", CUR, pk=True)
    month: date = column("first day of the month the rate converts", Date, pk=True)
    rate: Decimal = column("units of reporting currency per unit of currency", RATE)
