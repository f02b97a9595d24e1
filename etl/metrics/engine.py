"""The metric rules as a pure computation: rows and `as_of` in, rows out.

No session, no clock, no I/O. `compute_customer` turns one customer's revenue lines
(and, for the current month, the subscriptions expected to renew) into the rows of
`customer_plan_mrr`, `customer_mrr` and `customer_snapshots`. `Aggregates` sums those
rows into `mrr_monthly` and `mrr_by_plan`; because every aggregate field is a sum of
per-customer contributions, an incremental recompute subtracts a changed customer's
old rows and adds its new ones and lands on exactly what a full recompute gives.

Instants are epoch seconds (UTC), months are integer indexes (see periods.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from itertools import groupby
from operator import attrgetter
from typing import Any, NamedTuple

from etl.metrics.periods import (
    full_period_seconds,
    month_date,
    month_grid,
    months_ratio,
    round_half_up,
)

MRR_KINDS = ("subscription", "proration")
WAITING_STATUSES = ("active", "past_due")
DAY = 86_400


class Line(NamedTuple):
    """One revenue line as the engine needs it (see revenue_lines)."""

    customer_id: int
    currency: str
    plan_id: str | None
    subscription_id: str | None
    kind: str
    net: int  # amount − discounts, tax excluded
    tax: int  # all tax on the line
    interval: str | None
    interval_count: int | None
    start: int | None  # service period start, epoch seconds
    end: int | None  # service period end, epoch seconds
    status: str  # invoice status
    due: int | None  # invoice due date, epoch seconds


class ExpectedItem(NamedTuple):
    """An item of a Stripe subscription, for waiting MRR in the current month."""

    customer_id: int
    subscription_id: str
    status: str
    cancel_at_period_end: bool
    cancel_at: int | None
    ended_at: int | None
    plan_id: str
    currency: str
    amount: int  # unit amount of the plan
    quantity: int
    interval: str
    interval_count: int


class Adjustment(NamedTuple):
    """A refund or credit note: reduces total contract value."""

    customer_id: int
    kind: str  # refund | credit_note
    status: str
    currency: str
    amount: int
    tax: int


@dataclass(frozen=True)
class Params:
    as_of: int  # epoch seconds
    timezone: str = "UTC"
    include_tax: bool = False
    past_due_grace_days: int = 0

    @property
    def current_month(self) -> int:
        return month_grid(self.timezone).month_of(self.as_of)


# Row tuples, in column order of their tables (month as an index until written).
class PlanRow(NamedTuple):
    customer_id: int
    plan_id: str
    month: int
    currency: str
    mrr: int
    previous_mrr: int
    movement: str | None
    waiting_mrr: int


class CustomerRow(NamedTuple):
    customer_id: int
    month: int
    currency: str
    mrr: int
    previous_mrr: int
    movement: str | None
    movement_mrr: int
    subscriptions: int
    waiting_mrr: int
    waiting_subscriptions: int


class Snapshot(NamedTuple):
    customer_id: int
    month: int
    currency: str | None
    current_mrr: int
    current_subscription_count: int
    total_contract_value: int
    waiting_mrr: int


@dataclass
class CustomerResult:
    plan_rows: list[PlanRow] = field(default_factory=list)
    customer_rows: list[CustomerRow] = field(default_factory=list)
    snapshot: Snapshot | None = None
    unrated_lines: int = 0


def is_counted(line: Line, params: Params) -> bool:
    """Paid invoices count; an open one while it is at most `grace` days past due."""
    if line.status == "paid":
        return True
    if line.status == "open" and params.past_due_grace_days > 0 and line.due is not None:
        return params.as_of < line.due + params.past_due_grace_days * DAY
    return False


def line_value(line: Line, params: Params) -> int:
    return line.net + line.tax if params.include_tax else line.net


def monthly_rate(line: Line, value: int) -> Fraction | int:
    """The spec's §2: a subscription line's net per month; a proration scaled to its full period."""
    assert line.interval is not None and line.start is not None and line.end is not None
    num, den = months_ratio(line.interval, line.interval_count or 1)
    if line.kind == "proration":
        full = full_period_seconds(line.end, line.interval, line.interval_count or 1)
        return Fraction(value * full * den, (line.end - line.start) * num)
    top = value * den
    if top % num == 0:
        return top // num
    return Fraction(top, num)


def _subscription_key(line: Line) -> str:
    return line.subscription_id or f"plan:{line.plan_id}"


def compute_customer(
    customer_id: int,
    lines: Iterable[Line],
    params: Params,
    expected: Iterable[ExpectedItem] = (),
    adjustments: Iterable[Adjustment] = (),
) -> CustomerResult:
    grid = month_grid(params.timezone)
    mc = params.current_month
    result = CustomerResult()

    acc: dict[tuple[str, str], dict[int, Fraction | int]] = {}
    subs_at: dict[tuple[str, int], set[str]] = {}
    paying_prev: set[str] = set()  # subscriptions with a positive line at the end of mc − 1
    paying_now: set[str] = set()
    tcv: dict[str, int] = {}
    last_line: dict[str, int] = {}
    any_line = False

    for ln in lines:
        any_line = True
        if not is_counted(ln, params):
            continue
        value = line_value(ln, params)
        cur = ln.currency
        tcv[cur] = tcv.get(cur, 0) + value
        when = ln.start if ln.start is not None else (ln.end or 0)
        if when >= last_line.get(cur, when):
            last_line[cur] = when
        if ln.kind not in MRR_KINDS:
            continue
        if ln.interval is None or ln.start is None or ln.end is None or ln.end <= ln.start:
            result.unrated_lines += 1
            continue
        months = grid.active_months(ln.start, ln.end)
        if months.stop > mc + 1:
            months = range(months.start, mc + 1)
        if not months:
            continue
        rate = monthly_rate(ln, value)
        per_month = acc.setdefault((cur, ln.plan_id or ""), {})
        for m in months:
            per_month[m] = per_month.get(m, 0) + rate
        if value > 0:
            sid = _subscription_key(ln)
            for m in months:
                s = subs_at.get((cur, m))
                if s is None:
                    subs_at[(cur, m)] = {sid}
                else:
                    s.add(sid)
            if months.start <= mc - 1 < months.stop:
                paying_prev.add(sid)
            if months.start <= mc < months.stop:
                paying_now.add(sid)

    # MRR(c, k, m): rounded once, half up, never below 0.
    plan_mrr: dict[tuple[str, str], dict[int, int]] = {}
    cust_mrr: dict[str, dict[int, int]] = {}
    for (cur, plan), per_month in acc.items():
        rounded = {}
        for m, r in per_month.items():
            v = round_half_up(r)
            if v > 0:
                rounded[m] = v
        if rounded:
            plan_mrr[(cur, plan)] = rounded
            totals = cust_mrr.setdefault(cur, {})
            for m, v in rounded.items():
                totals[m] = totals.get(m, 0) + v

    # Waiting: renewals of this month not yet paid (current month only).
    waiting_rate: dict[tuple[str, str], Fraction] = {}
    waiting_subs: dict[str, set[str]] = {}
    end_mc = grid.end_of(mc)
    for it in expected:
        if (
            it.status not in WAITING_STATUSES
            or it.cancel_at_period_end
            or (it.cancel_at is not None and it.cancel_at <= end_mc)
            or it.ended_at is not None
            or it.subscription_id not in paying_prev
            or it.subscription_id in paying_now
        ):
            continue
        num, den = months_ratio(it.interval, it.interval_count)
        rate = Fraction(it.amount * it.quantity * den, num)
        if rate <= 0:
            continue
        key = (it.currency, it.plan_id)
        waiting_rate[key] = waiting_rate.get(key, 0) + rate
        waiting_subs.setdefault(it.currency, set()).add(it.subscription_id)
    plan_waiting: dict[tuple[str, str], int] = {}
    cust_waiting: dict[str, int] = {}
    for key, r in waiting_rate.items():
        w = max(0, round_half_up(r))
        if w:
            plan_waiting[key] = w
            cust_waiting[key[0]] = cust_waiting.get(key[0], 0) + w

    currencies = sorted(set(cust_mrr) | set(cust_waiting))
    for cur in currencies:
        totals = cust_mrr.get(cur, {})
        w_total = cust_waiting.get(cur, 0)
        months_needed = set()
        for m in totals:
            if m <= mc:
                months_needed.add(m)
                if m + 1 <= mc:
                    months_needed.add(m + 1)
        if w_total:
            months_needed.add(mc)
        plans = sorted(k for (c, k) in set(plan_mrr) | set(plan_waiting) if c == cur)
        had_mrr = False
        for m in sorted(months_needed):
            p = totals.get(m - 1, 0)
            q = totals.get(m, 0)
            w = w_total if m == mc else 0
            qe = q + w
            movement: str | None = None
            amount = 0
            if p == 0 and qe > 0:
                movement, amount = ("reactivation" if had_mrr else "new"), qe
            elif p > 0 and qe > p:
                movement, amount = "expansion", qe - p
            elif p > 0 and 0 < qe < p:
                movement, amount = "contraction", p - qe
            elif p > 0 and qe == 0:
                movement, amount = "churn", p
            nsubs = len(subs_at.get((cur, m), ()))
            wsubs = len(waiting_subs.get(cur, ())) if m == mc and w_total else 0
            result.customer_rows.append(
                CustomerRow(customer_id, m, cur, q, p, movement, amount, nsubs, w, wsubs)
            )
            for k in plans:
                per = plan_mrr.get((cur, k), {})
                pk = per.get(m - 1, 0)
                qk = per.get(m, 0)
                wk = plan_waiting.get((cur, k), 0) if m == mc else 0
                qek = qk + wk
                if pk == 0 and qek == 0:
                    continue
                pm: str | None = None
                if pk == 0 and qek > 0:
                    pm = "new" if p == 0 else "moved_in"
                elif pk > 0 and qek == 0:
                    pm = "lost" if qe == 0 else "moved_out"
                elif qek > pk:
                    pm = "upgrade"
                elif qek < pk:
                    pm = "downgrade"
                result.plan_rows.append(PlanRow(customer_id, k, m, cur, qk, pk, pm, wk))
            if q > 0:
                had_mrr = True

    # Snapshot: the current month, in the customer's main currency.
    net_tcv = dict(tcv)
    any_adj = False
    for adj in adjustments:
        if (adj.kind == "refund" and adj.status == "succeeded") or (
            adj.kind == "credit_note" and adj.status == "issued"
        ):
            any_adj = True
            value = (
                adj.amount if (adj.kind == "refund" or params.include_tax) else adj.amount - adj.tax
            )
            net_tcv[adj.currency] = net_tcv.get(adj.currency, 0) - value
    if any_line or any_adj:
        current = {cur: t.get(mc, 0) for cur, t in cust_mrr.items() if t.get(mc, 0) > 0}
        if current:
            currency: str | None = max(current, key=lambda c: (current[c], c))
        elif last_line:
            currency = max(last_line, key=lambda c: (last_line[c], c))
        elif cust_waiting:
            currency = max(cust_waiting, key=lambda c: (cust_waiting[c], c))
        elif net_tcv:
            currency = sorted(net_tcv)[0]
        else:
            currency = None
        if currency is not None:
            result.snapshot = Snapshot(
                customer_id,
                mc,
                currency,
                cust_mrr.get(currency, {}).get(mc, 0),
                len(subs_at.get((currency, mc), ())),
                net_tcv.get(currency, 0),
                cust_waiting.get(currency, 0),
            )
    return result


# ---------------------------------------------------------------- aggregates

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


def customer_contribution(r: CustomerRow) -> list[int]:
    v = [0] * _NM
    v[0] = r.mrr
    v[1] = r.subscriptions
    v[2] = 1 if r.mrr > 0 else 0
    mv, amt = r.movement, r.movement_mrr
    if mv in ("new", "reactivation"):
        v[3] = amt
        v[4] = 1
        if mv == "reactivation":
            v[5] = amt
            v[6] = 1
    elif mv == "expansion":
        v[7] = amt
    elif mv == "contraction":
        v[8] = amt
    elif mv == "churn":
        v[9] = amt
        v[10] = 1
    v[11] = r.waiting_mrr
    v[12] = r.waiting_subscriptions
    return v


def plan_contribution(r: PlanRow) -> list[int]:
    v = [0] * _NP
    q, p, w = r.mrr, r.previous_mrr, r.waiting_mrr
    qe = q + w
    v[0] = q
    v[1] = 1 if q > 0 else 0
    v[2] = p
    v[3] = 1 if p > 0 else 0
    mv = r.movement
    if mv == "new":
        v[4] = qe
        v[5] = 1
    elif mv == "upgrade":
        v[6] = qe - p
        v[12] = qe - p
    elif mv == "downgrade":
        v[7] = p - qe
        v[13] = p - qe
    elif mv == "moved_in":
        v[8] = qe
        v[9] = 1
        v[12] = qe
    elif mv == "moved_out":
        v[10] = p
        v[11] = 1
        v[13] = p
    elif mv == "lost":
        v[14] = p
        v[15] = 1
    v[16] = w
    v[17] = 1 if (w > 0 and q == 0) else 0
    return v


def _add(target: dict[Any, list[int]], key: Any, vec: list[int], sign: int) -> None:
    cur = target.get(key)
    if cur is None:
        target[key] = [sign * x for x in vec]
    else:
        for i, x in enumerate(vec):
            cur[i] += sign * x


@dataclass
class Aggregates:
    """Σ of per-customer contributions: (month, currency) and (month, plan, currency)."""

    monthly: dict[tuple[int, str], list[int]] = field(default_factory=dict)
    by_plan: dict[tuple[int, str, str], list[int]] = field(default_factory=dict)

    def add_rows(
        self, customer_rows: Iterable[CustomerRow], plan_rows: Iterable[PlanRow], sign: int = 1
    ) -> None:
        for r in customer_rows:
            _add(self.monthly, (r.month, r.currency), customer_contribution(r), sign)
        for pr in plan_rows:
            _add(self.by_plan, (pr.month, pr.plan_id, pr.currency), plan_contribution(pr), sign)

    def prune(self) -> None:
        """Drop keys no customer contributes to any more (all sums are of non-negative terms)."""
        self.monthly = {k: v for k, v in self.monthly.items() if any(v)}
        self.by_plan = {k: v for k, v in self.by_plan.items() if any(v)}

    @classmethod
    def from_tables(
        cls, monthly_rows: Iterable[Mapping[str, Any]], plan_rows: Iterable[Mapping[str, Any]]
    ) -> Aggregates:
        from etl.metrics.periods import month_index

        agg = cls()
        for r in monthly_rows:
            agg.monthly[(month_index(r["month"]), r["currency"])] = [
                int(r[f] if f != "new_mrr" else r["new_mrr"]) for f in MONTHLY_SUMS
            ]
        for r in plan_rows:
            agg.by_plan[(month_index(r["month"]), r["plan_id"], r["currency"])] = [
                int(r[f]) for f in PLAN_SUMS
            ]
        return agg


def _arpa(mrr: int, customers: int) -> int:
    return round_half_up(Fraction(mrr, customers)) if customers else 0


def monthly_rows(agg: Aggregates, current_month: int) -> list[dict[str, Any]]:
    """Native-currency `mrr_monthly` rows (basis='native')."""
    out = []
    for (m, cur), v in sorted(agg.monthly.items()):
        d = dict(zip(MONTHLY_SUMS, v, strict=True))
        out.append(_finish_monthly(d, m, cur, "native", current_month))
    return out


def _finish_monthly(
    d: dict[str, Any], m: int, cur: str, basis: str, current_month: int
) -> dict[str, Any]:
    d.update(
        month=month_date(m),
        currency=cur,
        basis=basis,
        upgrade_mrr=d["expansion_mrr"],
        downgrade_mrr=d["contraction_mrr"],
        change_in_mrr=d["expansion_mrr"] - d["contraction_mrr"],
        arr=12 * d["mrr"],
        arpa=_arpa(d["mrr"], d["customers"]),
        is_current=(m == current_month),
    )
    d.setdefault("fx_impact_mrr", 0)
    d.setdefault("missing_rates", None)
    return d


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
    """Converted totals (basis='reporting'): each currency's figures of month m × its rate of m,
    rounded half up per currency; `fx_impact_mrr` closes the movement identity exactly.

    Returns the rows and, per missing currency, the months it lacks a rate for.
    """
    months = sorted({m for m, _ in agg.monthly})
    by_month: dict[int, list[tuple[str, list[int]]]] = {}
    for (m, cur), v in agg.monthly.items():
        by_month.setdefault(m, []).append((cur, v))
    missing: dict[str, list[str]] = {}
    out = []
    prev_mrr: dict[int, int] = {}
    for m in months:
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
        before = prev_mrr.get(m - 1, 0)
        explained = (
            before
            + total["new_mrr"]
            + total["expansion_mrr"]
            - total["contraction_mrr"]
            - total["lost_mrr"]
        )
        d: dict[str, Any] = dict(total)
        d["fx_impact_mrr"] = total["mrr"] + total["waiting_mrr"] - explained
        d["missing_rates"] = ",".join(lacking) if lacking else None
        prev_mrr[m] = total["mrr"]
        out.append(_finish_monthly(d, m, reporting_currency, "reporting", current_month))
    return out, missing


def by_plan_rows(agg: Aggregates, plan_names: Mapping[str, str | None]) -> list[dict[str, Any]]:
    out = []
    for (m, plan, cur), v in sorted(agg.by_plan.items()):
        d: dict[str, Any] = dict(zip(PLAN_SUMS, v, strict=True))
        d.update(
            month=month_date(m),
            plan_id=plan,
            currency=cur,
            plan_name=plan_names.get(plan),
            end_of_term_mrr=d["total_mrr"] + d["waiting_mrr"],
            end_of_term_customers=d["total_customers"] + d["waiting_customers"],
        )
        out.append(d)
    return out


# ---------------------------------------------------------------- whole histories


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
