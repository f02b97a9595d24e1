"""Phases 1 to 3 of `compute_customer`: a customer's lines read into a `Ledger` of exact
monthly rates, paying subscriptions and contract value, then rounded to monthly MRR.

Phase 1 is the hot loop of the whole recompute (once per line): what it touches is bound
to locals, and only rare cases (unpaid lines, prorations, fractional rates) go through a
function call.

A month is its end boundary's index `j` in the month grid (month m ends at `starts[j]`).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from fractions import Fraction
from typing import Any

from etl.metrics.engine.lines import DAY, Params
from etl.metrics.engine.rules import is_counted, monthly_rate
from etl.periods import months_ratio, round_half_up

# (interval, interval_count) -> months_ratio, for the per-line loop.
_RATIOS: dict[tuple[str, int | None], tuple[int, int]] = {}


class Ledger:
    """One customer's sums while its lines are read (phase 1), for the later phases."""

    __slots__ = (
        "any_line",
        "credited",
        "fracs",
        "ints",
        "last_line",
        "paying_now",
        "paying_prev",
        "pending",
        "seen_currencies",
        "sub_lines",
        "subs_at",
        "tcv",
        "unrated",
    )

    def __init__(self) -> None:
        # Rates summed exactly without Fraction objects: whole-cent rates in `ints`, the
        # others as numerators per denominator in `fracs` (Fraction arithmetic is slow).
        self.ints: dict[tuple[str, str], dict[int, int]] = {}
        self.fracs: dict[tuple[str, str], dict[int, dict[int, int]]] = {}
        # (currency, month) -> the paying subscription id, or a set of them when several.
        self.subs_at: dict[tuple[str, int], Any] = {}
        self.paying_prev: set[str] = set()  # a positive line at the end of the previous month
        self.paying_now: set[str] = set()  # ... and at the end of the current one
        self.tcv: dict[str, int] = {}  # total contract value per currency
        self.last_line: dict[str, int] = {}  # latest counted line per currency
        self.any_line = False
        self.seen_currencies: set[str] = set()  # of lines not counted
        # Renewals invoiced but not paid: subscription -> [(currency, plan, monthly rate)]
        self.pending: dict[str, list[tuple[str, str, Fraction]]] = {}
        # Rated lines of subscriptions: (currency, sub, first, last, top, bottom)
        self.sub_lines: list[tuple[str, str, int, int, int, int]] = []
        self.credited: set[tuple[str, str]] = set()  # (currency, sub) with a negative line
        self.unrated = 0


def read_lines(
    book: Ledger, lines: Iterable[Any], params: Params, starts: list[int], jc: int
) -> None:
    """Phase 1, once per line: a counted line's value to the contract value, its monthly rate
    to each month it is active at the end of (up to the current one), its subscription to
    the months it pays for; lines not counted go to `_note_uncounted`."""
    include_tax, as_of, grace = params.include_tax, params.as_of, params.past_due_grace_days * DAY
    end_mc = starts[jc]
    # Inlined, one function: a call per line cost ~7 % of the whole computation.
    ints, fracs, tcv, last_line = book.ints, book.fracs, book.tcv, book.last_line
    subs_at, paying_prev, paying_now = book.subs_at, book.paying_prev, book.paying_now
    add_sub_line = book.sub_lines.append
    bisect, ratios, jp, jn = bisect_right, _RATIOS, jc - 1, jc + 1
    any_line, unrated = False, 0
    for ln in lines:
        any_line = True
        (_, cur, plan, sub, kind, value, tax, interval, count, start, end, status, due) = ln
        if status != "paid" and not is_counted(status, due, as_of, grace):
            _note_uncounted(book, ln, end_mc, include_tax)
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
            unrated += 1
            continue
        first = bisect(starts, start) or 1  # first month end > start (grid from 1990)
        last = bisect(starts, end)  # one past the last month end ≤ end
        if last > jn:
            last = jn
        if first >= last:
            continue
        if kind == "proration":
            top, bottom = monthly_rate(kind, value, interval, count, start, end)
        else:  # monthly_rate of a subscription line, inlined: the common case
            ratio = ratios.get((interval, count))
            if ratio is None:
                ratio = ratios[(interval, count)] = months_ratio(interval, count or 1)
            top, bottom = value * ratio[1], ratio[0]
        key = (cur, plan or "")
        if top % bottom == 0:
            rate = top // bottom
            per = ints.get(key)
            if per is None:
                per = ints[key] = {}
            if last - first == 1:  # a monthly line (the common case): no range to loop over
                per[first] = per.get(first, 0) + rate
            else:
                for j in range(first, last):
                    per[j] = per.get(j, 0) + rate
        else:
            _add_fraction(fracs, key, first, last, top, bottom)
        if sub is not None:
            add_sub_line((cur, sub, first, last, top, bottom))
            if value < 0:
                book.credited.add((cur, sub))
        if value > 0:
            # The subscription pays in these months (a str, a set only when several).
            sid = sub or f"plan:{plan}"
            for j in range(first, last):
                have = subs_at.get((cur, j))
                if have is None:
                    subs_at[(cur, j)] = sid
                elif type(have) is str:
                    if have != sid:
                        subs_at[(cur, j)] = {have, sid}
                else:
                    have.add(sid)
            if first <= jp < last:
                paying_prev.add(sid)
            if first <= jc < last:
                paying_now.add(sid)
    book.any_line = any_line
    book.unrated = unrated


def _note_uncounted(book: Ledger, ln: Any, end_mc: int, include_tax: bool) -> None:
    """A line not counted: its currency is seen; an invoiced, unpaid renewal of the current
    month is remembered, so that the waiting MRR expects exactly its lines."""
    (_, cur, plan, sub, kind, value, tax, interval, count, start, end, status, _) = ln
    book.seen_currencies.add(cur)
    if (
        (status == "open" or status == "draft")
        and kind == "subscription"
        and sub is not None
        and interval is not None
        and start is not None
        and end is not None
        and start < end_mc <= end
    ):
        net = value + tax if include_tax else value
        top, bottom = monthly_rate(kind, net, interval, count, start, end)
        book.pending.setdefault(sub, []).append((cur, plan or "", Fraction(top, bottom)))


def _add_fraction(
    fracs: dict[tuple[str, str], dict[int, dict[int, int]]],
    key: tuple[str, str],
    first: int,
    last: int,
    top: int,
    bottom: int,
) -> None:
    """A rate of `top / bottom` cents added to the months [first, last) of `key`, exactly."""
    fper = fracs.get(key)
    if fper is None:
        fper = fracs[key] = {}
    for j in range(first, last):
        dd = fper.get(j)
        if dd is None:
            fper[j] = {bottom: top}
        else:
            dd[bottom] = dd.get(bottom, 0) + top


def drop_netted_subscriptions(book: Ledger) -> None:
    """Phase 2: a subscription counts in a month only if its lines there net to a positive
    rate: one canceled at once with a proration credit contributes nothing ("0 means lost").
    """
    credited = book.credited
    by_sub: dict[tuple[str, str], list[tuple[int, int, int, int]]] = {}
    for c, s, f, la, t, b in book.sub_lines:
        if (c, s) in credited:
            by_sub.setdefault((c, s), []).append((f, la, t, b))
    subs_at = book.subs_at
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


def monthly_mrr(
    book: Ledger,
) -> tuple[dict[str, dict[int, dict[str, int]]], dict[str, dict[int, int]]]:
    """Phase 3: MRR(c, k, m), rounded once, half up, kept when above 0:
    by_month[cur][j] = {plan: mrr} and totals[cur][j] = Σ of those."""
    ints = book.ints
    for key, fper in book.fracs.items():
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
    return by_month, totals
