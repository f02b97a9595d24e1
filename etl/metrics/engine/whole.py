"""Whole data sets at once: every customer's rows and the aggregate tables in one call.

For tests and small callers; the recompute streams customers instead (constant memory)
and writes as it goes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from itertools import groupby
from operator import attrgetter
from typing import Any

from etl.metrics.engine.aggregates import Aggregates
from etl.metrics.engine.customer import compute_customer
from etl.metrics.engine.lines import (
    Adjustment,
    CustomerRow,
    ExpectedItem,
    Line,
    Params,
    PlanRow,
    Snapshot,
)
from etl.metrics.engine.reporting import by_plan_rows, monthly_rows, reporting_rows


@dataclass
class Computation:
    """Everything computed from a whole data set (used by tests and small callers)."""

    plan_rows: list[PlanRow]
    customer_rows: list[CustomerRow]
    snapshots: list[Snapshot]
    aggregates: Aggregates
    monthly: list[dict[str, Any]]
    reporting: list[dict[str, Any]]
    by_plan: list[dict[str, Any]]
    missing_rates: dict[str, list[str]]
    unrated_lines: int


def group_by_customer(lines: Iterable[Line]) -> Iterator[tuple[int, list[Line]]]:
    for cid, grp in groupby(lines, key=attrgetter("customer_id")):
        yield cid, list(grp)


def compute_all(
    lines: Iterable[Line],
    params: Params,
    *,
    expected: Iterable[ExpectedItem] = (),
    adjustments: Iterable[Adjustment] = (),
    rates: Mapping[tuple[str, int], Decimal | Fraction] | None = None,
    reporting_currency: str = "usd",
    plan_names: Mapping[str, str | None] | None = None,
) -> Computation:
    by_cust: dict[int, list[Line]] = {}
    for ln in lines:
        by_cust.setdefault(ln.customer_id, []).append(ln)
    exp: dict[int, list[ExpectedItem]] = {}
    for it in expected:
        exp.setdefault(it.customer_id, []).append(it)
    adj: dict[int, list[Adjustment]] = {}
    for a in adjustments:
        adj.setdefault(a.customer_id, []).append(a)
    agg = Aggregates()
    plan_rows: list[PlanRow] = []
    cust_rows: list[CustomerRow] = []
    snaps: list[Snapshot] = []
    unrated = 0
    for cid in sorted(set(by_cust) | set(exp) | set(adj)):
        res = compute_customer(
            cid, by_cust.get(cid, []), params, exp.get(cid, ()), adj.get(cid, ())
        )
        plan_rows.extend(res.plan_rows)
        cust_rows.extend(res.customer_rows)
        if res.snapshot is not None:
            snaps.append(res.snapshot)
        unrated += res.unrated_lines
        agg.add_rows(res.customer_rows, res.plan_rows)
    mc = params.current_month
    rep, missing = reporting_rows(agg, rates or {}, reporting_currency, mc)
    return Computation(
        plan_rows,
        cust_rows,
        snaps,
        agg,
        monthly_rows(agg, mc),
        rep,
        by_plan_rows(agg, plan_names or {}),
        missing,
        unrated,
    )
