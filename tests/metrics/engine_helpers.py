"""Building engine inputs from readable values, and checking the spec's identities."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Any

from etl.metrics.engine import Computation, Line, Params, compute_all
from etl.periods import month_index, to_epoch


def ts(s: str) -> int:
    return to_epoch(datetime.fromisoformat(s))


def line(
    customer: int,
    start: str,
    end: str,
    net: int,
    *,
    plan: str | None = "basic",
    kind: str = "subscription",
    interval: str | None = "month",
    count: int = 1,
    status: str = "paid",
    currency: str = "usd",
    sub: str | None = None,
    tax: int = 0,
    due: str | None = None,
) -> Line:
    return Line(
        customer,
        currency,
        plan,
        sub if sub is not None else (f"sub_{customer}_{plan}" if plan else None),
        kind,
        net,
        tax,
        interval if kind in ("subscription", "proration", "metered") else None,
        count if kind in ("subscription", "proration", "metered") else None,
        ts(start),
        ts(end),
        status,
        ts(due) if due else None,
    )


def run(lines: list[Line], as_of: str = "2025-01-15", **kw: Any) -> Computation:
    params = Params(
        as_of=ts(as_of),
        timezone=kw.pop("timezone", "UTC"),
        include_tax=kw.pop("include_tax", False),
        past_due_grace_days=kw.pop("grace", 0),
    )
    return compute_all(lines, params, **kw)


def monthly(comp: Computation, currency: str = "usd") -> dict[str, dict[str, Any]]:
    """native mrr_monthly rows by 'YYYY-MM'."""
    return {
        r["month"].isoformat()[:7]: r
        for r in comp.monthly
        if r["currency"] == currency and r["basis"] == "native"
    }


def mrr_of(comp: Computation, month: str, currency: str = "usd") -> int:
    row = monthly(comp, currency).get(month)
    return 0 if row is None else row["mrr"]


def customer_mrr(comp: Computation, customer: int) -> dict[str, int]:
    return {r[1].isoformat()[:7]: r[3] for r in comp.customer_rows if r[0] == customer and r[3] > 0}


def plan_rows(comp: Computation, month: str) -> dict[str, dict[str, Any]]:
    return {r["plan_id"]: r for r in comp.by_plan if r["month"].isoformat()[:7] == month}


def check_identities(comp: Computation) -> None:
    """Spec §4 and §5, every month and currency, to the cent (current month: end of term)."""
    by_cur: dict[str, dict[int, dict[str, Any]]] = defaultdict(dict)
    for r in comp.monthly:
        by_cur[r["currency"]][month_index(r["month"])] = r
    for _cur, rows in by_cur.items():
        for m, r in rows.items():
            prev = rows.get(m - 1, {}).get("mrr", 0)
            assert r["mrr"] + r["waiting_mrr"] == (
                prev + r["new_mrr"] + r["expansion_mrr"] - r["contraction_mrr"] - r["lost_mrr"]
            ), (r["month"], r)
            assert r["new_mrr"] >= r["reactivation_mrr"] >= 0
            assert r["arr"] == 12 * r["mrr"]
        # months absent from the table have zero MRR: the month after one must be present
        for m, r in rows.items():
            if r["mrr"] > 0 and not r["is_current"]:
                assert m + 1 in rows, r["month"]
    plans: dict[tuple[date, str], list[dict[str, Any]]] = defaultdict(list)
    for p in comp.by_plan:
        assert p["end_of_term_mrr"] == (
            p["beginning_mrr"]
            + p["new_mrr"]
            + p["upgrade_mrr"]
            - p["downgrade_mrr"]
            + p["moved_in_mrr"]
            - p["moved_out_mrr"]
            - p["lost_mrr"]
        ), p
        assert p["end_of_term_mrr"] == p["total_mrr"] + p["waiting_mrr"]
        plans[(p["month"], p["currency"])].append(p)
    for r in comp.monthly:
        if r["basis"] != "native":
            continue
        ps = plans.get((r["month"], r["currency"]), [])
        assert sum(p["total_mrr"] for p in ps) == r["mrr"], r["month"]
        assert sum(p["waiting_mrr"] for p in ps) == r["waiting_mrr"]
        assert sum(p["expansion_mrr"] - p["contraction_mrr"] for p in ps) == (
            r["upgrade_mrr"] - r["downgrade_mrr"]
        ), r["month"]
        assert sum(p["new_mrr"] for p in ps) == r["new_mrr"]
        assert sum(p["lost_mrr"] for p in ps) == r["lost_mrr"]
    # customer MRR = Σ plan MRR
    cust: dict[tuple[int, date, str], int] = defaultdict(int)
    for pr in comp.plan_rows:
        cust[(pr[0], pr[2], pr[3])] += pr[4]
    for cr in comp.customer_rows:
        assert cust.get((cr[0], cr[1], cr[2]), 0) == cr[3]
        assert cr[3] >= 0
