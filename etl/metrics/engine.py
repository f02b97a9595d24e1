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

from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction
from itertools import groupby
from operator import attrgetter
from typing import Any, NamedTuple

from etl.periods import (
    full_period_seconds,
    month_date,
    month_grid,
    month_index,
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
    # The subscription's coupon, for the expected price of the renewal.
    coupon_duration: str | None = None  # once, repeating or forever
    percent_off: Decimal | None = None
    amount_off: int | None = None
    discount_end: int | None = None  # epoch seconds; repeating coupons
    period_end: int | None = None  # end of the current period = the renewal, epoch seconds


def expected_net(it: ExpectedItem) -> int:
    """The renewal's price of an item: price × quantity − the coupon still in force then."""
    gross = it.amount * it.quantity
    if it.coupon_duration is None or gross <= 0:
        return gross
    if it.coupon_duration == "once":
        return gross
    if it.coupon_duration == "repeating" and (
        it.discount_end is None or it.period_end is None or it.period_end >= it.discount_end
    ):
        return gross
    if it.percent_off is not None:
        return gross - round_half_up(Fraction(gross) * Fraction(it.percent_off) / 100)
    return gross - min(it.amount_off or 0, gross)


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


# Row tuples, in column order of their tables.
class PlanRow(NamedTuple):
    customer_id: int
    plan_id: str
    month: date
    currency: str
    mrr: int
    previous_mrr: int
    movement: str | None
    waiting_mrr: int


class CustomerRow(NamedTuple):
    customer_id: int
    month: date
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
    month: date
    currency: str | None
    current_mrr: int
    current_subscription_count: int
    total_contract_value: int
    waiting_mrr: int


@dataclass
class CustomerResult:
    # Plain tuples in the field order of PlanRow / CustomerRow (cheaper than NamedTuples
    # for a million rows; wrap with PlanRow._make when names help).
    plan_rows: list[Any] = field(default_factory=list)
    customer_rows: list[Any] = field(default_factory=list)
    snapshot: Snapshot | None = None
    unrated_lines: int = 0


def is_counted(line: Line, params: Params) -> bool:
    """Paid invoices count; an open one while it is less than `grace` days past due."""
    if line.status == "paid":
        return True
    if line.status == "open" and params.past_due_grace_days > 0 and line.due is not None:
        return params.as_of < line.due + params.past_due_grace_days * DAY
    return False


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


_RATIOS: dict[tuple[str, int], tuple[int, int]] = {}
# A customer on a single plan: the plan-level movement of each customer-level one.
_PLAN_MOVE = {
    None: None,
    "new": "new",
    "reactivation": "new",
    "expansion": "upgrade",
    "contraction": "downgrade",
    "churn": "lost",
}


def _add_sub(subs_at: dict[tuple[str, int], Any], key: tuple[str, int], sid: str) -> None:
    # One subscription per month is the common case: keep a str, grow to a set only when needed.
    have = subs_at.get(key)
    if have is None:
        subs_at[key] = sid
    elif isinstance(have, str):
        if have != sid:
            subs_at[key] = {have, sid}
    else:
        have.add(sid)


def _count_subs(have: Any) -> int:
    if have is None:
        return 0
    return 1 if isinstance(have, str) else len(have)


def compute_customer(
    customer_id: int,
    lines: Iterable[Line] | Iterable[tuple[Any, ...]],
    params: Params,
    expected: Iterable[ExpectedItem] = (),
    adjustments: Iterable[Adjustment] = (),
) -> CustomerResult:
    """One customer's rows. Lines may be `Line`s or plain tuples in `Line`'s field order.

    Internally a month is its end boundary's index `j` in the month grid (month m ends at
    `starts[j]`), so "the previous month" is `j - 1`; rows carry the month's first day.
    """
    grid = month_grid(params.timezone)
    starts = grid.starts
    dates = grid.dates
    jc = params.current_month - grid.base + 1  # boundary index ending the current month
    include_tax = params.include_tax
    grace = params.past_due_grace_days * DAY
    as_of = params.as_of
    result = CustomerResult()

    # Rates summed exactly without Fraction objects: whole-cent rates in `ints`, the others
    # as numerators per denominator in `fracs` (Fraction arithmetic is the slow part).
    ints: dict[tuple[str, str], dict[int, int]] = {}
    fracs: dict[tuple[str, str], dict[int, dict[int, int]]] = {}
    subs_at: dict[tuple[str, int], Any] = {}
    paying_prev: set[str] = set()  # subscriptions with a positive line at the end of mc − 1
    paying_now: set[str] = set()
    tcv: dict[str, int] = {}
    last_line: dict[str, int] = {}
    any_line = False
    seen_currencies: set[str] = set()
    # Renewals invoiced but not paid: subscription -> [(currency, plan, monthly rate)]
    pending: dict[str, list[tuple[str, str, Fraction]]] = {}
    sub_lines: list[tuple[str, str, int, int, int, int]] = []
    add_sub_line = sub_lines.append
    credited: set[tuple[str, str]] = set()

    for ln in lines:
        any_line = True
        (_, cur, plan, sub, kind, value, tax, interval, count, start, end, status, due) = ln
        if status != "paid" and not (
            status == "open" and grace and due is not None and as_of < due + grace
        ):
            seen_currencies.add(cur)
            if (
                (status == "open" or status == "draft")
                and kind == "subscription"
                and sub is not None
                and interval is not None
                and start is not None
                and end is not None
                and start < starts[jc] <= end
            ):
                num, den = months_ratio(interval, count or 1)
                net = value + tax if include_tax else value
                pending.setdefault(sub, []).append((cur, plan or "", Fraction(net * den, num)))
            continue
        if include_tax:
            value += tax
        tcv[cur] = tcv.get(cur, 0) + value
        when = start if start is not None else (end or 0)
        if when >= last_line.get(cur, when):
            last_line[cur] = when
        if kind != "subscription" and kind != "proration":
            continue
        if interval is None or start is None or end is None or end <= start:
            result.unrated_lines += 1
            continue
        first = bisect_right(starts, start) or 1  # first month end > start (grid from 1990)
        last = bisect_right(starts, end)  # one past the last month end ≤ end
        if last > jc + 1:
            last = jc + 1
        if first >= last:
            continue
        ratio = _RATIOS.get((interval, count))
        if ratio is None:
            ratio = _RATIOS[(interval, count)] = months_ratio(interval, count or 1)
        num, den = ratio
        key = (cur, plan or "")
        if kind == "proration":
            full = full_period_seconds(end, interval, count or 1)
            top, bottom = value * full * den, (end - start) * num
        else:
            top, bottom = value * den, num
        if top % bottom == 0:
            rate = top // bottom
            per = ints.get(key)
            if per is None:
                per = ints[key] = {}
            for j in range(first, last):
                per[j] = per.get(j, 0) + rate
        else:
            fper = fracs.get(key)
            if fper is None:
                fper = fracs[key] = {}
            for j in range(first, last):
                dd = fper.get(j)
                if dd is None:
                    fper[j] = {bottom: top}
                else:
                    dd[bottom] = dd.get(bottom, 0) + top
        if sub is not None:
            add_sub_line((cur, sub, first, last, top, bottom))
            if value < 0:
                credited.add((cur, sub))
        if value > 0:
            sid = sub or f"plan:{plan}"
            for j in range(first, last):
                _add_sub(subs_at, (cur, j), sid)
            if first <= jc - 1 < last:
                paying_prev.add(sid)
            if first <= jc < last:
                paying_now.add(sid)

    # A subscription counts in a month only if its lines there net to a positive rate: one
    # canceled at once with a proration credit contributes nothing ("0 means lost").
    by_sub: dict[tuple[str, str], list[tuple[int, int, int, int]]] = {}
    if credited:
        for c, s, f, la, t, b in sub_lines:
            if (c, s) in credited:
                by_sub.setdefault((c, s), []).append((f, la, t, b))
    for (cur, sid), lines_of in by_sub.items():
        # Only a month with a credit active can net to zero or less.
        for j in {j for f, la, t, _ in lines_of if t < 0 for j in range(f, la)}:
            net = sum(
                (Fraction(top, bottom) for f, la, top, bottom in lines_of if f <= j < la),
                Fraction(0),
            )
            if round_half_up(net) > 0:
                continue
            have = subs_at.get((cur, j))
            if have == sid:
                del subs_at[(cur, j)]
            elif isinstance(have, set):
                have.discard(sid)

    # MRR(c, k, m): rounded once, half up, never below 0.
    # by_month[cur][j] = {plan: q}; totals[cur][j] = Σ q
    for key, fper in fracs.items():
        per = ints.get(key)
        if per is None:
            per = ints[key] = {}
        for j, dd in fper.items():
            n, dn = per.get(j, 0), 1
            for bottom, top in dd.items():
                n, dn = n * bottom + top * dn, dn * bottom
            per[j] = (2 * n + dn) // (2 * dn)
    by_month: dict[str, dict[int, dict[str, int]]] = {}
    totals: dict[str, dict[int, int]] = {}
    for (cur, plan), per in ints.items():
        bm = by_month.get(cur)
        if bm is None:
            bm = by_month[cur] = {}
            totals[cur] = {}
        tot = totals[cur]
        for j, v in per.items():
            if v > 0:
                slot = bm.get(j)
                if slot is None:
                    bm[j] = {plan: v}
                else:
                    slot[plan] = v
                tot[j] = tot.get(j, 0) + v

    # Waiting: renewals of this month not yet paid (current month only).
    plan_waiting: dict[str, dict[str, int]] = {}
    cust_waiting: dict[str, int] = {}
    waiting_subs: dict[str, set[str]] = {}
    if expected:
        used_pending: set[str] = set()
        waiting_rate: dict[tuple[str, str], Fraction] = {}
        end_mc = starts[jc]
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
            invoiced = pending.get(it.subscription_id)
            if invoiced is not None:
                # The renewal is invoiced (draft or open): expect exactly its lines.
                if it.subscription_id in used_pending:
                    continue
                used_pending.add(it.subscription_id)
                rates = invoiced
            else:
                num, den = months_ratio(it.interval, it.interval_count)
                rates = [(it.currency, it.plan_id, Fraction(expected_net(it) * den, num))]
            for cur, plan, wr in rates:
                if wr <= 0:
                    continue
                key = (cur, plan)
                waiting_rate[key] = waiting_rate.get(key, 0) + wr
                waiting_subs.setdefault(cur, set()).add(it.subscription_id)
        for (cur, plan), r in waiting_rate.items():
            w = max(0, round_half_up(r))
            if w:
                plan_waiting.setdefault(cur, {})[plan] = w
                cust_waiting[cur] = cust_waiting.get(cur, 0) + w

    plan_rows = result.plan_rows
    cust_rows = result.customer_rows
    empty: dict[str, int] = {}
    for cur in sorted(set(totals) | set(cust_waiting)):
        tot = totals.get(cur, {})
        bm = by_month.get(cur, {})
        w_total = cust_waiting.get(cur, 0)
        pw = plan_waiting.get(cur, empty)
        plans_ever = {k for per in bm.values() for k in per} | set(pw)
        # One plan in this currency ever (the common case): plan rows mirror customer rows.
        only = next(iter(plans_ever)) if len(plans_ever) == 1 else None
        needed = set()
        for j in tot:
            needed.add(j)
            if j < jc:
                needed.add(j + 1)
        if w_total:
            needed.add(jc)
        had_mrr = False
        last_j, last_q = -1, 0
        for j in sorted(needed):
            p = last_q if last_j == j - 1 else tot.get(j - 1, 0)
            q = tot.get(j, 0)
            last_j, last_q = j, q
            d = dates[j]
            if j == jc:
                w = w_total
                wsubs = len(waiting_subs.get(cur, ())) if w else 0
            else:
                w = wsubs = 0
            qe = q + w
            if p == 0:
                movement, amount = ("reactivation" if had_mrr else "new"), qe
            elif qe > p:
                movement, amount = "expansion", qe - p
            elif qe == p:
                movement, amount = None, 0
            elif qe > 0:
                movement, amount = "contraction", p - qe
            else:
                movement, amount = "churn", p
            cust_rows.append(
                (
                    customer_id,
                    d,
                    cur,
                    q,
                    p,
                    movement,
                    amount,
                    0
                    if (sa := subs_at.get((cur, j))) is None
                    else (1 if type(sa) is str else len(sa)),
                    w,
                    wsubs,
                )
            )
            if q > 0:
                had_mrr = True
            if only is not None:
                plan_rows.append((customer_id, only, d, cur, q, p, _PLAN_MOVE[movement], w))
                continue
            prev_plans = bm.get(j - 1, empty)
            now_plans = bm.get(j, empty)
            keys = set(prev_plans) | set(now_plans)
            if j == jc and pw:
                keys |= set(pw)
            for k in sorted(keys):
                pk = prev_plans.get(k, 0)
                qk = now_plans.get(k, 0)
                wk = pw.get(k, 0) if j == jc else 0
                qek = qk + wk
                if pk == 0:
                    if qek == 0:
                        continue
                    pm: str | None = "new" if p == 0 else "moved_in"
                elif qek == 0:
                    pm = "lost" if qe == 0 else "moved_out"
                elif qek > pk:
                    pm = "upgrade"
                elif qek < pk:
                    pm = "downgrade"
                else:
                    pm = None
                plan_rows.append((customer_id, k, d, cur, qk, pk, pm, wk))

    # Snapshot: the current month, in the customer's main currency.
    net_tcv = dict(tcv)
    any_adj = False
    for adj in adjustments:
        if (adj.kind == "refund" and adj.status == "succeeded") or (
            adj.kind == "credit_note" and adj.status == "issued"
        ):
            any_adj = True
            value = adj.amount if (adj.kind == "refund" or include_tax) else adj.amount - adj.tax
            net_tcv[adj.currency] = net_tcv.get(adj.currency, 0) - value
    if any_line or any_adj:
        current = {cur: t[jc] for cur, t in totals.items() if t.get(jc, 0) > 0}
        currency: str | None
        if current:
            currency = max(current, key=lambda c: (current[c], c))
        elif last_line:
            currency = max(last_line, key=lambda c: (last_line[c], c))
        elif cust_waiting:
            currency = max(cust_waiting, key=lambda c: (cust_waiting[c], c))
        elif net_tcv:
            currency = sorted(net_tcv)[0]
        elif seen_currencies:
            currency = sorted(seen_currencies)[0]
        else:
            currency = None
        if currency is not None:
            result.snapshot = Snapshot(
                customer_id,
                dates[jc],
                currency,
                totals.get(currency, {}).get(jc, 0),
                _count_subs(subs_at.get((currency, jc))),
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
