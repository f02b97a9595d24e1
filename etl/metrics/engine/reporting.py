"""The aggregate sums as table rows: native `mrr_monthly`, its reporting-currency totals
(basis='reporting', with `fx_impact_mrr`), and `mrr_by_plan`.

Separate from the sums themselves because formatting happens once per run, on the
merged totals, while the sums are updated per customer.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

from etl.metrics.engine.aggregates import MONTHLY_SUMS, PLAN_SUMS, Aggregates
from etl.periods import month_date, month_index, round_half_up


def _arpa(mrr: int, customers: int) -> int:
    return round_half_up(Fraction(mrr, customers)) if customers else 0


def monthly_rows(agg: Aggregates, current_month: int) -> list[dict[str, Any]]:
    """Native-currency `mrr_monthly` rows (basis='native')."""
    out = []
    for (d, cur), v in sorted(agg.monthly.items()):
        row = dict(zip(MONTHLY_SUMS, v, strict=True))
        out.append(_finish_monthly(row, d, cur, "native", current_month))
    return out


def _finish_monthly(
    row: dict[str, Any], d: date, cur: str, basis: str, current_month: int
) -> dict[str, Any]:
    row.update(
        month=d,
        currency=cur,
        basis=basis,
        upgrade_mrr=row["expansion_mrr"],
        downgrade_mrr=row["contraction_mrr"],
        change_in_mrr=row["expansion_mrr"] - row["contraction_mrr"],
        arr=12 * row["mrr"],
        arpa=_arpa(row["mrr"], row["customers"]),
        is_current=(month_index(d) == current_month),
    )
    row.setdefault("fx_impact_mrr", 0)
    row.setdefault("missing_rates", None)
    return row


MONEY_MONTHLY = {
    "mrr",
    "new_mrr",
    "reactivation_mrr",
    "expansion_mrr",
    "contraction_mrr",
    "lost_mrr",
    "waiting_mrr",
}


def reporting_rows(
    agg: Aggregates,
    rates: Mapping[tuple[str, int], Decimal | Fraction],
    reporting_currency: str,
    current_month: int,
) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """Converted totals (basis='reporting'): each currency's figures of month m × its rate of
    m, rounded half up per currency and figure; `fx_impact_mrr` closes the movement identity
    exactly. A currency without a rate is left out of that month's total and named in
    `missing_rates`. `rates` is keyed (currency, month index).

    Returns the rows and, per missing currency, the months (YYYY-MM) it lacks a rate for.
    """
    by_month: dict[int, list[tuple[str, list[int]]]] = {}
    for (d, cur), v in agg.monthly.items():
        by_month.setdefault(month_index(d), []).append((cur, v))
    missing: dict[str, list[str]] = {}
    out = []
    prev_mrr: dict[int, int] = {}
    for m in sorted(by_month):
        total = dict.fromkeys(MONTHLY_SUMS, 0)
        lacking: list[str] = []
        for cur, v in sorted(by_month[m]):
            if cur == reporting_currency:
                rate: Fraction | None = Fraction(1)
            else:
                raw = rates.get((cur, m))
                rate = Fraction(raw) if raw is not None else None
            if rate is None:
                lacking.append(cur)
                missing.setdefault(cur, []).append(month_date(m).isoformat()[:7])
                continue
            for name, x in zip(MONTHLY_SUMS, v, strict=True):
                total[name] += round_half_up(rate * x) if name in MONEY_MONTHLY else x
        explained = (
            prev_mrr.get(m - 1, 0)
            + total["new_mrr"]
            + total["expansion_mrr"]
            - total["contraction_mrr"]
            - total["lost_mrr"]
        )
        row: dict[str, Any] = dict(total)
        row["fx_impact_mrr"] = total["mrr"] + total["waiting_mrr"] - explained
        row["missing_rates"] = ",".join(lacking) if lacking else None
        prev_mrr[m] = total["mrr"]
        out.append(
            _finish_monthly(row, month_date(m), reporting_currency, "reporting", current_month)
        )
    return out, missing


def by_plan_rows(agg: Aggregates, plan_names: Mapping[str, str | None]) -> list[dict[str, Any]]:
    out = []
    for (d, plan, cur), v in sorted(agg.by_plan.items()):
        row: dict[str, Any] = dict(zip(PLAN_SUMS, v, strict=True))
        row.update(
            month=d,
            plan_id=plan,
            currency=cur,
            plan_name=plan_names.get(plan),
            end_of_term_mrr=row["total_mrr"] + row["waiting_mrr"],
            end_of_term_customers=row["total_customers"] + row["waiting_customers"],
        )
        out.append(row)
    return out
