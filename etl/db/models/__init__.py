"""The whole data model, as SQLModel tables, in one module per layer.

Layers, in the order data flows through them:

  raw_objects                      Stripe objects exactly as received, with lineage
  customers … refunds              normalized Stripe objects (and API-created customers,
                                   plans and imported invoices, which share the tables)
  revenue_lines                    one row per counted-or-not invoice line, Stripe and manual
  customer_plan_mrr … mrr_by_plan  monthly snapshots computed by the metrics engine
  sync_* / locks / job_runs        bookkeeping of the pipeline itself
  api_keys, fx_rates               inputs managed by commands

Conventions: money is an integer in the currency's smallest unit (BIGINT); timestamps
are naive UTC; months are the DATE of their first day in the reporting time zone;
currencies are lower-case ISO codes; JSON is stored as text. Every column carries a
comment because `schema.sql`, generated from these classes, is the users' reference.
"""

from __future__ import annotations

from typing import Any

from etl.db.models.columns import metadata
from etl.db.models.metrics import (
    CustomerMrr,
    CustomerPlanMrr,
    CustomerSnapshot,
    DirtyCustomer,
    FxRate,
    MrrByPlan,
    MrrMonthly,
    RecomputeState,
    RevenueLine,
)
from etl.db.models.pipeline import (
    ApiKey,
    JobRun,
    Lock,
    SyncCursor,
    SyncRun,
)
from etl.db.models.stripe_objects import (
    Coupon,
    CreditNote,
    Customer,
    Discount,
    Invoice,
    InvoiceItem,
    InvoiceLine,
    Plan,
    Product,
    RawObject,
    Refund,
    Subscription,
    SubscriptionItem,
)

__all__ = [
    "ApiKey",
    "Coupon",
    "CreditNote",
    "Customer",
    "CustomerMrr",
    "CustomerPlanMrr",
    "CustomerSnapshot",
    "DirtyCustomer",
    "Discount",
    "FxRate",
    "Invoice",
    "InvoiceItem",
    "InvoiceLine",
    "JobRun",
    "Lock",
    "MrrByPlan",
    "MrrMonthly",
    "Plan",
    "Product",
    "RawObject",
    "RecomputeState",
    "Refund",
    "RevenueLine",
    "Subscription",
    "SubscriptionItem",
    "SyncCursor",
    "SyncRun",
    "all_tables",
    "metadata",
]


def all_tables() -> list[Any]:
    return list(metadata.sorted_tables)
