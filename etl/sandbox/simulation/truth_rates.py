"""The spec's monthly rates of a generated account's lines, summed per customer, plan and
month, and the expected rates of renewals still waiting at `as_of` (for `truth`).

Every rate is recomputed from the simulation's timeline (billing periods, mid-period
changes, coupons), never read from the invoice objects.
"""

from __future__ import annotations

from bisect import bisect_right
from fractions import Fraction
from typing import TYPE_CHECKING

from etl.sandbox.simulation.records import InvoiceFact, SubTimeline
from etl.sandbox.simulation.util import prorate, round_half_up

if TYPE_CHECKING:
    from etl.sandbox.simulation.account import Account


def _status_at(tl: SubTimeline, t: int) -> str | None:
    status = None
    for when, st in tl.status_history:
        if when > t:
            break
        status = st
    return status


def _counted(inv: InvoiceFact | None, as_of: int) -> bool:
    return inv is not None and inv.paid_at is not None and inv.paid_at <= as_of


class RateSums:
    """Σ of rates per (customer, plan, month index), and who contributed."""

    def __init__(self, starts: list[int], last_index: int) -> None:
        self.starts = starts
        self.last = last_index  # index of the current month
        self.sum: dict[tuple[str, str, int], Fraction | int] = {}
        self.subs: dict[tuple[str, str, int], set[str]] = {}
        self.paying: set[tuple[str, int]] = set()  # (subscription, month): a positive line

    def add(
        self, cust: str, plan: str, sub: str, start: int, end: int, rate: Fraction | int, net: int
    ) -> None:
        """A line active on (start, end]: it counts at month m when start < T_m <= end."""
        starts = self.starts
        j = bisect_right(starts, start)  # first boundary > start
        while j < len(starts) and starts[j] <= end:
            m = j - 1
            if m > self.last:
                break
            key = (cust, plan, m)
            self.sum[key] = self.sum.get(key, 0) + rate
            self.subs.setdefault(key, set()).add(sub)
            if net > 0:
                self.paying.add((sub, m))
            j += 1


# months(interval) of the spec as numerator / denominator
_MONTHS = {"day": (12, 365), "week": (12, 52), "month": (1, 1), "year": (12, 1)}


def _rate(amount: int, full: int, part: int, interval: str | None, count: int) -> Fraction | int:
    """amount × (full / part) / months(interval): the spec's monthly rate of a line (full =
    part for a whole billing period); an int when exact, which keeps the sums fast."""
    num, den = _MONTHS[interval or "month"]
    top, bottom = amount * full * den, part * num * count
    if top % bottom == 0:
        return top // bottom
    return Fraction(top, bottom)


def _coupon_discount(acct: Account, tl: SubTimeline, gross: int, inv: InvoiceFact) -> int:
    if tl.coupon is None or gross <= 0:
        return 0
    coupon = acct.catalog.coupons[tl.coupon]
    if coupon.duration == "once":
        applies = inv.first
    elif coupon.duration == "repeating":
        applies = tl.discount_end is not None and inv.created < tl.discount_end
    else:
        applies = True
    if not applies:
        return 0
    return _discount_amount(coupon.percent_off, coupon.amount_off, gross)


def _discount_amount(percent_off: int | None, amount_off: int | None, gross: int) -> int:
    if percent_off is not None:
        return round_half_up(Fraction(gross * percent_off, 100))
    return min(amount_off or 0, gross)


def collect_rates(
    acct: Account, timelines: list[SubTimeline], as_of: int, rates: RateSums
) -> dict[str, str]:
    """Adds the rate of every counted line (paid by `as_of`) to `rates`; returns the
    currency of each customer."""
    prices = acct.catalog.prices
    cust_currency: dict[str, str] = {}
    for tl in timelines:
        cust_currency[tl.customer] = tl.currency
        for p in tl.periods:
            if p.trial or not _counted(p.invoice, as_of):
                continue
            price = prices[p.price]
            gross = price.unit_amount * p.quantity
            net = gross - _coupon_discount(acct, tl, gross, p.invoice)
            rate = _rate(net, 1, 1, price.interval, price.interval_count)
            rates.add(tl.customer, p.price, tl.id, p.start, p.end, rate, net)
        for ch in tl.changes:
            if not _counted(ch.invoice, as_of):
                continue
            s, e, x = ch.period_start, ch.period_end, ch.at
            full, part = e - s, e - x
            old = prices[ch.old_price]
            credit = -prorate(old.unit_amount * ch.old_quantity, part, full)
            if credit:
                rate = _rate(credit, full, part, old.interval, old.interval_count)
                rates.add(tl.customer, old.id, tl.id, x, e, rate, credit)
            if ch.new_price is not None:
                new = prices[ch.new_price]
                charge = prorate(new.unit_amount * ch.new_quantity, part, full)
                if charge:
                    rate = _rate(charge, full, part, new.interval, new.interval_count)
                    rates.add(tl.customer, new.id, tl.id, x, e, rate, charge)
    return cust_currency


def waiting_rates(
    acct: Account,
    timelines: list[SubTimeline],
    as_of: int,
    cur_idx: int,
    paying: set[tuple[str, int]],
) -> dict[tuple[str, str], tuple[Fraction, set[str]]]:
    """Expected rates, per (customer, plan), of the subscriptions waiting for a renewal.

    Waiting = active or past_due at as_of, no cancellation scheduled or done, a positive
    counted line at the end of the previous month and none at the end of this one (its
    renewal falls in this month and is not paid by as_of). The expected rate is the
    renewal's: the invoiced-but-unpaid period's lines if it exists, else the items as
    they stand at as_of priced at the period's end (coupon included)."""
    out: dict[tuple[str, str], tuple[Fraction, set[str]]] = {}
    for tl in timelines:
        if (tl.id, cur_idx - 1) not in paying or (tl.id, cur_idx) in paying:
            continue
        if _status_at(tl, as_of) not in ("active", "past_due"):
            continue
        if any(req <= as_of for req, _eff, _kind in tl.cancellations):
            continue
        for plan, rate in _renewal_rates(acct, tl, as_of):
            if rate == 0:
                continue
            total, subs = out.get((tl.customer, plan), (Fraction(0), set()))
            subs.add(tl.id)
            out[(tl.customer, plan)] = (total + rate, subs)
    return out


def _renewal_rates(acct: Account, tl: SubTimeline, as_of: int) -> list[tuple[str, Fraction]]:
    """(plan, rate) of each line of the subscription's next renewal after `as_of`."""
    prices = acct.catalog.prices
    current = [p for p in tl.periods if p.start <= as_of]
    if not current:
        return []
    last_start = max(p.start for p in current)
    group = [p for p in current if p.start == last_start]
    inv = group[0].invoice
    out: list[tuple[str, Fraction]] = []
    if not group[0].trial and not _counted(inv, as_of):
        # the renewal is invoiced (draft or open) but not paid by as_of
        for p in group:
            price = prices[p.price]
            gross = price.unit_amount * p.quantity
            net = gross - _coupon_discount(acct, tl, gross, inv)
            out.append((p.price, Fraction(_rate(net, 1, 1, price.interval, price.interval_count))))
        return out
    # the renewal at the end of the current period is still to come
    future = InvoiceFact("upcoming", group[0].end, False)
    for history in tl.items.values():
        state = [h for h in history if h[0] <= as_of]
        if not state:
            continue
        _t, price_id, qty = state[-1]
        price = prices[price_id]
        gross = price.unit_amount * qty
        net = gross - _coupon_discount(acct, tl, gross, future)
        out.append((price_id, Fraction(_rate(net, 1, 1, price.interval, price.interval_count))))
    return out
