"""The metric rules as a pure computation: rows and `as_of` in, rows out.

No session, no clock, no I/O. `compute_customer` turns one customer's revenue lines
(and, for the current month, the subscriptions expected to renew) into the rows of
`customer_plan_mrr`, `customer_mrr` and `customer_snapshots`. `Aggregates` sums those
rows into `mrr_monthly` and `mrr_by_plan`; because every aggregate field is a sum of
per-customer contributions, an incremental recompute subtracts a changed customer's
old rows and adds its new ones and lands on exactly what a full recompute gives.

Modules: `lines` (row types), `rules` (the named rules), `customer` (compute_customer),
`aggregates` (the sums), `reporting` (sums -> table rows), `whole` (whole data sets).
Instants are epoch seconds (UTC), months are integer indexes (see periods.py).
"""

from etl.metrics.engine.aggregates import MONTHLY_SUMS, PLAN_SUMS, Aggregates
from etl.metrics.engine.customer import compute_customer
from etl.metrics.engine.lines import (
    DAY,
    MRR_KINDS,
    WAITING_STATUSES,
    Adjustment,
    CustomerResult,
    CustomerRow,
    ExpectedItem,
    Line,
    Params,
    PlanRow,
    Snapshot,
)
from etl.metrics.engine.reporting import (
    MONEY_MONTHLY,
    by_plan_rows,
    monthly_rows,
    reporting_rows,
)
from etl.metrics.engine.rules import PLAN_MOVE, expected_net, is_counted, monthly_rate
from etl.metrics.engine.whole import Computation, compute_all, group_by_customer

__all__ = [
    "DAY",
    "MONEY_MONTHLY",
    "MONTHLY_SUMS",
    "MRR_KINDS",
    "PLAN_MOVE",
    "PLAN_SUMS",
    "WAITING_STATUSES",
    "Adjustment",
    "Aggregates",
    "Computation",
    "CustomerResult",
    "CustomerRow",
    "ExpectedItem",
    "Line",
    "Params",
    "PlanRow",
    "Snapshot",
    "by_plan_rows",
    "compute_all",
    "compute_customer",
    "expected_net",
    "group_by_customer",
    "is_counted",
    "monthly_rate",
    "monthly_rows",
    "reporting_rows",
]
