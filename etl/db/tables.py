"""One typed name per table, the SQL table name: `tables.invoices.c.id`.

SQLModel types `Model.__table__` loosely; this module casts each once, so that the
rest of the code reads tables without `type: ignore` and under one name each.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table

from etl.db import models


def table_of(model: type[object]) -> Table:
    """The Table behind a SQLModel table class."""
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


raw_objects = table_of(models.RawObject)
customers = table_of(models.Customer)
products = table_of(models.Product)
plans = table_of(models.Plan)
coupons = table_of(models.Coupon)
subscriptions = table_of(models.Subscription)
subscription_items = table_of(models.SubscriptionItem)
discounts = table_of(models.Discount)
invoices = table_of(models.Invoice)
invoice_lines = table_of(models.InvoiceLine)
invoice_items = table_of(models.InvoiceItem)
credit_notes = table_of(models.CreditNote)
refunds = table_of(models.Refund)
revenue_lines = table_of(models.RevenueLine)
customer_plan_mrr = table_of(models.CustomerPlanMrr)
customer_mrr = table_of(models.CustomerMrr)
mrr_monthly = table_of(models.MrrMonthly)
mrr_by_plan = table_of(models.MrrByPlan)
customer_snapshots = table_of(models.CustomerSnapshot)
dirty_customers = table_of(models.DirtyCustomer)
recompute_state = table_of(models.RecomputeState)
fx_rates = table_of(models.FxRate)
sync_cursors = table_of(models.SyncCursor)
sync_runs = table_of(models.SyncRun)
locks = table_of(models.Lock)
job_runs = table_of(models.JobRun)
api_keys = table_of(models.ApiKey)
