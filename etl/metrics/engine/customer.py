"""`compute_customer`: one customer's lines (and expected renewals, refunds, credit notes)
in, its rows of `customer_plan_mrr`, `customer_mrr` and `customer_snapshots` out.

It runs in six phases, each a function called once per customer: read the lines, drop
subscriptions a credit nets to nothing, round the monthly MRR, price the renewals still
waiting, emit the month rows, make the snapshot. The loops over lines and months stay
inside the phases with what they touch bound to locals: a million lines make a function
call per line per month cost more than the rule it would name (benchmarks/metrics.py).
Phases 1-3 are in `ledger.py`, 4-6 in `rows.py`.

Internally a month is its end boundary's index `j` in the month grid (month m ends at
`starts[j]`), so "the previous month" is `j - 1`; rows carry the month's first day.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from etl.metrics.engine.ledger import Ledger, drop_netted_subscriptions, monthly_mrr, read_lines
from etl.metrics.engine.lines import Adjustment, CustomerResult, ExpectedItem, Line, Params
from etl.metrics.engine.rows import NO_PLANS, month_rows, snapshot, waiting
from etl.periods import month_grid


def compute_customer(
    customer_id: int,
    lines: Iterable[Line] | Iterable[tuple[Any, ...]],
    params: Params,
    expected: Iterable[ExpectedItem] = (),
    adjustments: Iterable[Adjustment] = (),
) -> CustomerResult:
    """One customer's rows. Lines may be `Line`s or plain tuples in `Line`'s field order."""
    grid = month_grid(params.timezone)
    starts = grid.starts
    jc = params.current_month - grid.base + 1  # boundary index ending the current month
    book = Ledger()
    read_lines(book, lines, params, starts, jc)
    if book.credited:
        drop_netted_subscriptions(book)
    by_month, totals = monthly_mrr(book)
    plan_waiting, cust_waiting, waiting_subs = waiting(expected, book, starts[jc])
    result = CustomerResult(unrated_lines=book.unrated)
    for cur in sorted(set(totals) | set(cust_waiting)):
        month_rows(
            result,
            (customer_id, cur),
            (totals.get(cur, {}), by_month.get(cur, {})),
            (
                cust_waiting.get(cur, 0),
                len(waiting_subs.get(cur, ())),
                plan_waiting.get(cur, NO_PLANS),
            ),
            book.subs_at,
            grid.dates,
            jc,
        )
    result.snapshot = snapshot(
        customer_id, book, adjustments, params.include_tax, totals, cust_waiting, grid.dates, jc
    )
    return result
