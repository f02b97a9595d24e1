"""The ground truth of a generated account: expected MRR and movements, per the metric spec.

Derived from the simulation's subscription TIMELINE (`Account.timelines`: billing
periods with price and quantity, coupons and their windows, mid-period changes,
cancellations, status history, and when each charging invoice was paid) — never from
the invoice objects, so that the truth and the invoice lines check each other:

- a billing period of a licensed item is a line with
  rate = (unit_amount × quantity − discount) / months(interval);
  the discount is recomputed here from the coupon (percent: half-up rounded;
  amount off: at most the amount; `once` on the first invoice, `repeating` on invoices
  created before the discount's end, `forever` always); trial periods are $0;
- a mid-period change at x in billing period [s, e) is a credit line for the old
  price and quantity and a charge line for the new ones over [x, e), with Stripe's
  rounded amounts recomputed here (±round(unit × qty × (e − x) / (e − s))), and the
  spec's rate amount × (e − s) / (e − x) / months(interval);
- a line counts when the invoice that carried it was paid by `as_of` and it is
  active at the month's end instant T (start < T ≤ end), T being the first instant of
  the next month in `timezone`;
- MRR(c, k, m) = max(0, round_half_up(Σ rates)); MRR(c, m) = Σ_k; movements per
  section 4 of the spec, "paid in some earlier month" read as: MRR > 0 in an earlier
  month.

Current month (the month of `as_of`): the same rule with what is paid by `as_of`.
A subscription is *waiting* when at `as_of` it is active or past_due with no
cancellation requested, had a positive counted line at the end of the previous month
and has none at the end of this one — its renewal falls in this month and is not paid
by `as_of` (not yet invoiced, draft, or open). Its expected rate (the renewal's price ×
quantity − coupon discount, per the items at `as_of`) goes to `waiting_mrr`, rounded per
customer and plan, and its count to `waiting_subscriptions`. The current month's
movements compare MRR(c, m−1) with the end-of-term MRR(c, m) + waiting(c), so a
customer who is only waiting is not lost, and for every month and currency
  mrr + waiting_mrr = previous mrr + new + reactivation + expansion − contraction − churn
(waiting_mrr is 0 in closed months, where this is the spec's identity).

`subscriptions` counts, per customer with MRR > 0, the distinct subscriptions that have
a counted line active at T on a (customer, plan) whose MRR is > 0.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from etl.errors import UsageError
from etl.sandbox.simulation.truth_rates import RateSums, collect_rates, waiting_rates
from etl.sandbox.simulation.util import round_half_up

if TYPE_CHECKING:
    from etl.sandbox.simulation.account import Account

__all__ = ["MonthTruth", "Truth", "ground_truth"]


@dataclass
class MonthTruth:
    mrr: int = 0
    new: int = 0
    reactivation: int = 0
    expansion: int = 0
    contraction: int = 0
    churn: int = 0
    customers: int = 0
    subscriptions: int = 0
    new_customers: int = 0
    reactivated_customers: int = 0
    expansion_customers: int = 0
    contraction_customers: int = 0
    churned_customers: int = 0
    waiting_mrr: int = 0
    waiting_subscriptions: int = 0
    is_current: bool = False


@dataclass
class Truth:
    as_of: int
    timezone: str
    monthly: dict[tuple[str, date], MonthTruth] = field(default_factory=dict)
    customer_mrr: dict[str, tuple[str, int]] = field(default_factory=dict)
    customer_month_mrr: dict[tuple[str, date], int] = field(default_factory=dict)
    customer_plan_month_mrr: dict[tuple[str, str, date], int] = field(default_factory=dict)
    customer_waiting_mrr: dict[str, int] = field(default_factory=dict)
    customer_currency: dict[str, str] = field(default_factory=dict)
    current_month: date | None = None

    def to_json(self) -> dict[str, Any]:
        monthly = []
        for (cur, month), mt in sorted(self.monthly.items()):
            row: dict[str, Any] = {"currency": cur, "month": month.isoformat()}
            row.update(asdict(mt))
            monthly.append(row)
        months: dict[str, dict[str, int]] = {}
        for (cid, month), v in sorted(self.customer_month_mrr.items()):
            months.setdefault(cid, {})[month.isoformat()] = v
        return {
            "as_of": _iso(self.as_of),
            "timezone": self.timezone,
            "current_month": self.current_month.isoformat() if self.current_month else None,
            "monthly": monthly,
            "customer_mrr": {
                cid: {"currency": cur, "mrr": v}
                for cid, (cur, v) in sorted(self.customer_mrr.items())
            },
            "customer_month_mrr": months,
            "customer_waiting_mrr": dict(sorted(self.customer_waiting_mrr.items())),
        }


def _iso(t: int) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def _month_starts(first: int, last: int, tz: ZoneInfo) -> tuple[list[int], list[date]]:
    """Epoch of the first instant of each month (in tz) from first's month to the month
    after last's, and the months as dates."""
    d = datetime.fromtimestamp(first, tz)
    y, m = d.year, d.month
    starts: list[int] = []
    months: list[date] = []
    while True:
        t = int(datetime(y, m, 1, tzinfo=tz).timestamp())
        starts.append(t)
        months.append(date(y, m, 1))
        if t > last:
            break
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return starts, months


def ground_truth(
    acct: Account, as_of: datetime | int | None = None, timezone: str = "UTC"
) -> Truth:
    """Expected monthly MRR and movements per currency, and MRR per customer."""
    with acct.lock:
        return _ground_truth(acct, as_of, timezone)


def _ground_truth(acct: Account, as_of_in: datetime | date | int | None, timezone: str) -> Truth:
    tz = ZoneInfo(timezone)
    as_of = _as_of_epoch(acct, as_of_in, tz)
    truth = Truth(as_of=as_of, timezone=timezone)
    timelines = [tl for tl in acct.timelines.values() if tl.created <= as_of]
    if not timelines:
        return truth
    first = min(tl.created for tl in timelines)
    starts, months = _month_starts(first, as_of, tz)
    cur_idx = bisect_right(starts, as_of) - 1
    truth.current_month = months[cur_idx]
    rates = RateSums(starts, cur_idx)
    cust_currency = collect_rates(acct, timelines, as_of, rates)
    cpm, cm, contributing = _mrr(rates)
    waiting = waiting_rates(acct, timelines, as_of, cur_idx, rates.paying)
    waiting_cust, waiting_subs = _waiting_per_customer(waiting)
    monthly = _movements(cm, contributing, waiting_cust, cust_currency, cur_idx)
    for cust, v in waiting_cust.items():
        if v > 0:
            mt = monthly[(cust_currency[cust], cur_idx)]
            mt.waiting_mrr += v
            mt.waiting_subscriptions += len(waiting_subs[cust])

    truth.monthly = {(cur, months[m]): mt for (cur, m), mt in monthly.items()}
    truth.customer_month_mrr = {(c, months[m]): v for (c, m), v in cm.items()}
    truth.customer_plan_month_mrr = {(c, k, months[m]): v for (c, k, m), v in cpm.items()}
    truth.customer_mrr = {
        c: (cust_currency[c], v) for (c, m), v in cm.items() if m == cur_idx and v > 0
    }
    truth.customer_waiting_mrr = {c: v for c, v in waiting_cust.items() if v > 0}
    truth.customer_currency = cust_currency
    return truth


def _as_of_epoch(acct: Account, as_of_in: datetime | date | int | None, tz: ZoneInfo) -> int:
    """`as_of` as epoch seconds (default: the account's clock), never after the clock."""
    if as_of_in is None:
        as_of = acct.now
    elif isinstance(as_of_in, datetime):
        dt = as_of_in if as_of_in.tzinfo else as_of_in.replace(tzinfo=UTC)
        as_of = int(dt.timestamp())
    elif isinstance(as_of_in, date):
        # a date means the end of that day in the time zone (like `etl recompute --as-of`)
        nxt = as_of_in + timedelta(days=1)
        as_of = int(datetime(nxt.year, nxt.month, nxt.day, tzinfo=tz).timestamp()) - 1
    else:
        as_of = int(as_of_in)
    if as_of > acct.now:
        raise UsageError(
            f"as-of {_iso(as_of)} is after the sandbox account's clock ({_iso(acct.now)}): "
            "nothing is known after it"
        )
    return as_of


def _mrr(
    rates: RateSums,
) -> tuple[
    dict[tuple[str, str, int], int], dict[tuple[str, int], int], dict[tuple[str, int], set[str]]
]:
    """MRR per (customer, plan, month) and per (customer, month), and the subscriptions
    contributing to each positive (customer, month)."""
    cpm: dict[tuple[str, str, int], int] = {}
    cm: dict[tuple[str, int], int] = {}
    contributing: dict[tuple[str, int], set[str]] = {}
    for key, total in rates.sum.items():
        v = max(0, total if isinstance(total, int) else round_half_up(total))
        if v <= 0:
            continue
        cust, _plan, m = key
        cpm[key] = v
        cm[(cust, m)] = cm.get((cust, m), 0) + v
        contributing.setdefault((cust, m), set()).update(rates.subs[key])
    return cpm, cm, contributing


def _waiting_per_customer(
    waiting: dict[tuple[str, str], tuple[Fraction, set[str]]],
) -> tuple[dict[str, int], dict[str, set[str]]]:
    """Waiting MRR per customer (rounded per customer and plan) and its subscriptions."""
    waiting_subs: dict[str, set[str]] = {}
    waiting_cust: dict[str, int] = {}
    for (cust, _plan), (total, subs) in waiting.items():
        v = max(0, round_half_up(total))
        waiting_cust[cust] = waiting_cust.get(cust, 0) + v
        waiting_subs.setdefault(cust, set()).update(subs)
    return waiting_cust, waiting_subs


def _movements(
    cm: dict[tuple[str, int], int],
    contributing: dict[tuple[str, int], set[str]],
    waiting_cust: dict[str, int],
    cust_currency: dict[str, str],
    cur_idx: int,
) -> dict[tuple[str, int], MonthTruth]:
    """MRR, counts and movements per (currency, month index), customer by customer."""
    currencies = sorted(set(cust_currency.values()))
    monthly: dict[tuple[str, int], MonthTruth] = {
        (cur, m): MonthTruth(is_current=(m == cur_idx))
        for cur in currencies
        for m in range(cur_idx + 1)
    }
    by_cust: dict[str, dict[int, int]] = {}
    for (cust, m), v in cm.items():
        by_cust.setdefault(cust, {})[m] = v
    for cust in waiting_cust:
        by_cust.setdefault(cust, {})
    for cust, series in by_cust.items():
        cur = cust_currency[cust]
        ever = False
        for m in range(min(series, default=cur_idx), cur_idx + 1):
            prev_mrr = series.get(m - 1, 0)
            q = series.get(m, 0)
            mt = monthly[(cur, m)]
            if q > 0:
                mt.mrr += q
                mt.customers += 1
                mt.subscriptions += len(contributing[(cust, m)])
            # the current month's movement compares with the end-of-term MRR: a renewal
            # that is only waiting is neither lost nor a contraction
            qe = q + waiting_cust.get(cust, 0) if m == cur_idx else q
            _move(mt, prev_mrr, qe, ever)
            if q > 0:
                ever = True
    return monthly


def _move(mt: MonthTruth, prev_mrr: int, qe: int, ever: bool) -> None:
    """One customer's movement from `prev_mrr` to `qe` (`ever`: paid in an earlier month)."""
    if prev_mrr == 0 and qe > 0:
        if ever:
            mt.reactivation += qe
            mt.reactivated_customers += 1
        else:
            mt.new += qe
            mt.new_customers += 1
    elif prev_mrr > 0 and qe > prev_mrr:
        mt.expansion += qe - prev_mrr
        mt.expansion_customers += 1
    elif prev_mrr > 0 and 0 < qe < prev_mrr:
        mt.contraction += prev_mrr - qe
        mt.contraction_customers += 1
    elif prev_mrr > 0 and qe == 0:
        mt.churn += prev_mrr
        mt.churned_customers += 1
