"""Phases 4 to 6 of `compute_customer`: the renewals still waiting in the current month,
the month rows with their movements (customer and plan level), the snapshot.

The month loop runs once per customer-month (a million in the benchmark): its movement
rules, customer and plan level, are inlined there.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from fractions import Fraction
from typing import Any

from etl.metrics.engine.ledger import Ledger
from etl.metrics.engine.lines import (
    WAITING_STATUSES,
    Adjustment,
    CustomerResult,
    ExpectedItem,
    Snapshot,
)
from etl.metrics.engine.rules import PLAN_MOVE, expected_net
from etl.periods import months_ratio, round_half_up

NO_PLANS: dict[str, int] = {}


def waiting(
    expected: Iterable[ExpectedItem], book: Ledger, end_mc: int
) -> tuple[dict[str, dict[str, int]], dict[str, int], dict[str, set[str]]]:
    """Phase 4, the current month only: renewals of this month not yet paid, per currency
    and plan, per currency, and the subscriptions they are of."""
    plan_waiting: dict[str, dict[str, int]] = {}
    cust_waiting: dict[str, int] = {}
    waiting_subs: dict[str, set[str]] = {}
    if not expected:
        return plan_waiting, cust_waiting, waiting_subs
    used_pending: set[str] = set()
    waiting_rate: dict[tuple[str, str], Fraction] = {}
    for it in expected:
        if (
            it.status not in WAITING_STATUSES
            or it.cancel_at_period_end
            or (it.cancel_at is not None and it.cancel_at <= end_mc)
            or it.ended_at is not None
            or it.subscription_id not in book.paying_prev
            or it.subscription_id in book.paying_now
        ):
            continue
        invoiced = book.pending.get(it.subscription_id)
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
    return plan_waiting, cust_waiting, waiting_subs


def month_rows(
    out: CustomerResult,
    where: tuple[int, str],
    mrr: tuple[dict[int, int], dict[int, dict[str, int]]],
    waiting: tuple[int, int, dict[str, int]],
    subs_at: dict[tuple[str, int], Any],
    dates: list[date],
    jc: int,
) -> None:
    """Phase 5, per currency: a customer row for each month with MRR and the month after
    (a churn), with its movement, and the plan rows of the same months, each plan's
    movement told apart from the customer's (a move between plans is not new or lost
    MRR). `mrr` is the MRR per month and per month and plan; `waiting` the current month's
    waiting MRR, waiting subscriptions and waiting MRR per plan."""
    # One loop per customer-month, inlined: a call per month cost ~4 % of the computation.
    customer_id, cur = where
    tot, bm = mrr
    w_total, waiting_count, pw = waiting
    plan_rows, cust_rows = out.plan_rows, out.customer_rows
    plans_ever = {k for per in bm.values() for k in per} | set(pw)
    # One plan in this currency ever (the common case): plan rows mirror customer rows.
    only = next(iter(plans_ever)) if len(plans_ever) == 1 else None
    needed = set(tot)
    needed.update(j + 1 for j in tot if j < jc)
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
            w, wsubs = w_total, (waiting_count if w_total else 0)
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
        sa = subs_at.get((cur, j))
        subs = 0 if sa is None else (1 if type(sa) is str else len(sa))
        cust_rows.append((customer_id, d, cur, q, p, movement, amount, subs, w, wsubs))
        if q > 0:
            had_mrr = True
        if only is not None:
            plan_rows.append((customer_id, only, d, cur, q, p, PLAN_MOVE[movement], w))
            continue
        prev_plans = bm.get(j - 1, NO_PLANS)
        now_plans = bm.get(j, NO_PLANS)
        waiting_now = pw if j == jc else NO_PLANS
        keys = set(prev_plans) | set(now_plans)
        if waiting_now:
            keys |= set(waiting_now)
        for k in sorted(keys):
            pk = prev_plans.get(k, 0)
            qk = now_plans.get(k, 0)
            wk = waiting_now.get(k, 0)
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


def snapshot(
    customer_id: int,
    book: Ledger,
    adjustments: Iterable[Adjustment],
    include_tax: bool,
    totals: dict[str, dict[int, int]],
    cust_waiting: dict[str, int],
    dates: list[date],
    jc: int,
) -> Snapshot | None:
    """Phase 6: the current month, in the customer's main currency (the one with the most
    MRR now, else the latest line's, else the most waiting MRR, …); None without any."""
    net_tcv = dict(book.tcv)
    any_adj = False
    for adj in adjustments:
        if (adj.kind == "refund" and adj.status == "succeeded") or (
            adj.kind == "credit_note" and adj.status == "issued"
        ):
            any_adj = True
            value = adj.amount if (adj.kind == "refund" or include_tax) else adj.amount - adj.tax
            net_tcv[adj.currency] = net_tcv.get(adj.currency, 0) - value
    if not (book.any_line or any_adj):
        return None
    current = {cur: t[jc] for cur, t in totals.items() if t.get(jc, 0) > 0}
    last_line = book.last_line
    currency: str | None
    if current:
        currency = max(current, key=lambda c: (current[c], c))
    elif last_line:
        currency = max(last_line, key=lambda c: (last_line[c], c))
    elif cust_waiting:
        currency = max(cust_waiting, key=lambda c: (cust_waiting[c], c))
    elif net_tcv:
        currency = sorted(net_tcv)[0]
    elif book.seen_currencies:
        currency = sorted(book.seen_currencies)[0]
    else:
        return None
    have = book.subs_at.get((currency, jc))
    return Snapshot(
        customer_id,
        dates[jc],
        currency,
        totals.get(currency, {}).get(jc, 0),
        0 if have is None else (1 if isinstance(have, str) else len(have)),
        net_tcv.get(currency, 0),
        cust_waiting.get(currency, 0),
    )
