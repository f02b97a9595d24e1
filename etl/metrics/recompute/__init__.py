"""Recompute: read revenue lines, run the pure engine per customer, write the snapshots.

Full: every customer, streamed in customer order (constant memory), results written in
bulk. Incremental: only customers whose inputs changed since the last run (the
`dirty_customers` table, plus subscriptions, refunds and credit notes updated since,
plus customers with open invoices when a grace period makes them depend on `as_of`);
the aggregate tables are corrected by subtracting those customers' old rows and adding
their new ones, which is exact because every aggregate is a sum of per-customer
contributions. A change of month, time zone or metric setting forces a full run.

Modules: `run` (recompute: the run and its bookkeeping), `state` (the last run's
settings, in recompute_state), `full` and `incremental` (the two kinds of run),
`reading` (inputs and stored rows), `writer` (bulk inserts), `patch` (an incremental
run's updates and deletes), `aggregates` (mrr_monthly, mrr_by_plan), `report`.
"""

from etl.metrics.recompute.aggregates import (
    BYPLAN_KEY,
    MONTHLY_KEY,
    replace_changed,
    stored_aggregates,
    write_aggregates,
)
from etl.metrics.recompute.reading import lines_sql, stream_lines
from etl.metrics.recompute.report import RecomputeReport
from etl.metrics.recompute.run import recompute

__all__ = [
    "BYPLAN_KEY",
    "MONTHLY_KEY",
    "RecomputeReport",
    "lines_sql",
    "recompute",
    "replace_changed",
    "stored_aggregates",
    "stream_lines",
    "write_aggregates",
]
