"""The aggregate tables as sums: `mrr_monthly` and `mrr_by_plan` before formatting.

Every aggregate field is a sum of per-customer contributions, so an incremental
recompute subtracts a changed customer's old rows and adds its new ones and lands on
exactly what a full recompute gives; worker processes' sums merge the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

MONTHLY_SUMS = (
    "mrr",
    "subscriptions",
    "customers",
    "new_mrr",
    "new_customers",
    "reactivation_mrr",
    "reactivated_customers",
    "expansion_mrr",
    "contraction_mrr",
    "lost_mrr",
    "lost_customers",
    "waiting_mrr",
    "waiting_subscriptions",
)
PLAN_SUMS = (
    "total_mrr",
    "total_customers",
    "beginning_mrr",
    "beginning_customers",
    "new_mrr",
    "new_customers",
    "upgrade_mrr",
    "downgrade_mrr",
    "moved_in_mrr",
    "moved_in_customers",
    "moved_out_mrr",
    "moved_out_customers",
    "expansion_mrr",
    "contraction_mrr",
    "lost_mrr",
    "lost_customers",
    "waiting_mrr",
    "waiting_customers",
)
_NM = len(MONTHLY_SUMS)
_NP = len(PLAN_SUMS)


@dataclass
class Aggregates:
    """Σ of per-customer contributions, keyed (month, currency) and (month, plan, currency).

    Every field is a sum of non-negative per-row terms, so subtracting a customer's old
    rows and adding its new ones gives exactly what summing everything again gives.
    """

    monthly: dict[tuple[date, str], list[int]] = field(default_factory=dict)
    by_plan: dict[tuple[date, str, str], list[int]] = field(default_factory=dict)

    def add_rows(
        self,
        customer_rows: Iterable[tuple[Any, ...]],
        plan_rows: Iterable[tuple[Any, ...]],
        sign: int = 1,
    ) -> None:
        """Add (sign=1) or subtract (sign=-1) a customer's rows."""
        self.add_customer_rows(customer_rows, sign)
        self.add_plan_rows(plan_rows, sign)

    def add_customer_rows(self, customer_rows: Iterable[tuple[Any, ...]], sign: int = 1) -> None:
        monthly = self.monthly
        for _, d, cur, q, _p, mv, amt, subs, w, ws in customer_rows:
            key = (d, cur)
            v = monthly.get(key)
            if v is None:
                v = monthly[key] = [0] * _NM
            if q:
                v[0] += sign * q
                v[2] += sign
            if subs:
                v[1] += sign * subs
            if mv is not None:
                if mv == "new":
                    v[3] += sign * amt
                    v[4] += sign
                elif mv == "reactivation":
                    v[3] += sign * amt
                    v[4] += sign
                    v[5] += sign * amt
                    v[6] += sign
                elif mv == "expansion":
                    v[7] += sign * amt
                elif mv == "contraction":
                    v[8] += sign * amt
                else:  # churn
                    v[9] += sign * amt
                    v[10] += sign
            if w:
                v[11] += sign * w
                v[12] += sign * ws

    def add_plan_rows(self, plan_rows: Iterable[tuple[Any, ...]], sign: int = 1) -> None:
        by_plan = self.by_plan
        for _, k, d, cur, q, p, mv, w in plan_rows:
            key2 = (d, k, cur)
            v = by_plan.get(key2)
            if v is None:
                v = by_plan[key2] = [0] * _NP
            if q:
                v[0] += sign * q
                v[1] += sign
            if p:
                v[2] += sign * p
                v[3] += sign
            if mv is not None:
                qe = q + w
                if mv == "new":
                    v[4] += sign * qe
                    v[5] += sign
                elif mv == "upgrade":
                    v[6] += sign * (qe - p)
                    v[12] += sign * (qe - p)
                elif mv == "downgrade":
                    v[7] += sign * (p - qe)
                    v[13] += sign * (p - qe)
                elif mv == "moved_in":
                    v[8] += sign * qe
                    v[9] += sign
                    v[12] += sign * qe
                elif mv == "moved_out":
                    v[10] += sign * p
                    v[11] += sign
                    v[13] += sign * p
                else:  # lost
                    v[14] += sign * p
                    v[15] += sign
            if w:
                v[16] += sign * w
                if not q:
                    v[17] += sign

    def prune(self) -> None:
        """Drop keys no customer contributes to any more."""
        self.monthly = {k: v for k, v in self.monthly.items() if any(v)}
        self.by_plan = {k: v for k, v in self.by_plan.items() if any(v)}

    @classmethod
    def from_tables(cls, monthly_rows: Iterable[Any], plan_rows: Iterable[Any]) -> Aggregates:
        """The sums back from stored native `mrr_monthly` and `mrr_by_plan` rows."""
        agg = cls()
        for r in monthly_rows:
            agg.monthly[(r["month"], r["currency"])] = [int(r[f]) for f in MONTHLY_SUMS]
        for r in plan_rows:
            agg.by_plan[(r["month"], r["plan_id"], r["currency"])] = [int(r[f]) for f in PLAN_SUMS]
        return agg
