"""The ground truth: equal to the metric spec applied to the emitted invoices, and sound.

The truth is derived from the simulation's subscription timeline; `spec_mrr_from_invoices`
below is an independent reading of the spec over the invoice OBJECTS (lines, discounts,
periods, paid times). The two must agree for every customer, plan and month.
"""

from __future__ import annotations

import hashlib
import json
from bisect import bisect_right
from datetime import UTC, date, datetime
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from etl.errors import UsageError
from etl.sandbox.simulation.generator import Account, generate_account
from etl.sandbox.simulation.truth import Truth, ground_truth
from etl.sandbox.simulation.util import DAY, add_interval

Obj = dict[str, Any]

_MONTHS = {
    "day": Fraction(12, 365),
    "week": Fraction(12, 52),
    "month": Fraction(1),
    "year": Fraction(12),
}


def _half_up(x: Fraction) -> int:
    sign = -1 if x < 0 else 1
    return sign * int((abs(x) * 2 + 1) // 2)


def _month_ends(first: int, as_of: int, tz: str) -> tuple[list[int], list[date], int]:
    """Boundaries (first instant of each month in tz) and the index of as_of's month."""
    z = ZoneInfo(tz)
    d = datetime.fromtimestamp(first, z)
    y, m = d.year, d.month
    starts, months = [], []
    while True:
        t = int(datetime(y, m, 1, tzinfo=z).timestamp())
        starts.append(t)
        months.append(date(y, m, 1))
        if t > as_of:
            break
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return starts, months, bisect_right(starts, as_of) - 1


def spec_mrr_from_invoices(acct: Account, as_of: int, tz: str) -> dict[tuple[str, str, date], int]:
    """MRR(c, k, m) by the metric spec, from paid invoice lines only."""
    prices = acct.objects["price"]
    invoices = list(acct.objects["invoice"].values())
    first = min(i["created"] for i in invoices)
    starts, months, cur = _month_ends(first, as_of, tz)
    sums: dict[tuple[str, str, date], Fraction] = {}
    for inv in invoices:
        paid_at = inv["status_transitions"]["paid_at"]
        if inv["status"] != "paid" or paid_at is None or paid_at > as_of:
            continue
        for ln in inv["lines"]["data"]:
            price = prices[ln["pricing"]["price_details"]["price"]]
            rec = price["recurring"]
            if rec is None or rec["usage_type"] != "licensed":
                continue  # metered and one-time lines make no MRR
            parent = ln["parent"]
            details = parent[parent["type"]]
            proration = details["proration"]
            if parent["type"] == "invoice_item_details" and not proration:
                continue
            net = ln["amount"] - sum(d["amount"] for d in ln["discount_amounts"])
            per = _MONTHS[rec["interval"]] * rec["interval_count"]
            start, end = ln["period"]["start"], ln["period"]["end"]
            rate = Fraction(net) / per
            if proration:
                full_start = add_interval(end, rec["interval"], -rec["interval_count"])
                rate = rate * Fraction(end - full_start, end - start)
            j = bisect_right(starts, start)
            while j < len(starts) and starts[j] <= end and j - 1 <= cur:
                key = (inv["customer"], price["id"], months[j - 1])
                sums[key] = sums.get(key, Fraction(0)) + rate
                j += 1
    return {k: v for k, v in ((k, max(0, _half_up(s))) for k, s in sums.items()) if v > 0}


def truth_hash(t: Truth) -> str:
    return hashlib.sha256(json.dumps(t.to_json(), sort_keys=True).encode()).hexdigest()


@pytest.fixture(scope="module")
def acct() -> Account:
    return generate_account(seed=11, customers=500, months=24)


def assert_matches_invoices(acct: Account, truth: Truth, min_keys: int = 1) -> None:
    expected = spec_mrr_from_invoices(acct, truth.as_of, truth.timezone)
    got = truth.customer_plan_month_mrr
    diffs = sorted(
        (k, got.get(k), expected.get(k))
        for k in set(got) | set(expected)
        if got.get(k) != expected.get(k)
    )
    assert not diffs, diffs[:10]
    assert len(got) >= min_keys
    # customer totals are the sums over plans
    totals: dict[tuple[str, date], int] = {}
    for (c, _k, m), v in got.items():
        totals[(c, m)] = totals.get((c, m), 0) + v
    assert totals == truth.customer_month_mrr


def assert_identity(truth: Truth) -> None:
    """mrr + waiting = previous + new + reactivation + expansion − contraction − churn."""
    previous: dict[str, int] = {}
    months = sorted(truth.monthly)
    assert months
    for cur, month in months:
        mt = truth.monthly[(cur, month)]
        p = previous.get(cur, 0)
        assert mt.mrr + mt.waiting_mrr == (
            p + mt.new + mt.reactivation + mt.expansion - mt.contraction - mt.churn
        ), (cur, month)
        if not mt.is_current:
            assert mt.waiting_mrr == 0 and mt.waiting_subscriptions == 0
        previous[cur] = mt.mrr
    # per currency the customer figures add up
    for (cur, month), mt in truth.monthly.items():
        custs = [
            v
            for (c, m), v in truth.customer_month_mrr.items()
            if m == month and truth.customer_currency[c] == cur
        ]
        assert mt.mrr == sum(custs) and mt.customers == len(custs)


def movements_by_hand(truth: Truth, cur: str, month: date) -> dict[str, int]:
    """Section 4 of the spec from the per-customer figures (end-of-term in the current month)."""
    months = sorted({m for (_c, m) in truth.monthly})
    i = months.index(month)
    prev = months[i - 1] if i else None
    out = dict.fromkeys(("new", "reactivation", "expansion", "contraction", "churn"), 0)
    for c, ccur in truth.customer_currency.items():
        if ccur != cur:
            continue
        p = truth.customer_month_mrr.get((c, prev), 0) if prev else 0
        q = truth.customer_month_mrr.get((c, month), 0)
        if month == truth.current_month:
            q += truth.customer_waiting_mrr.get(c, 0)
        earlier = any(truth.customer_month_mrr.get((c, m), 0) > 0 for m in months[:i])
        if p == 0 and q > 0:
            out["reactivation" if earlier else "new"] += q
        elif p > 0 and q > p:
            out["expansion"] += q - p
        elif p > 0 and 0 < q < p:
            out["contraction"] += p - q
        elif p > 0 and q == 0:
            out["churn"] += p
    return out


@pytest.mark.parametrize("tz", ["UTC", "America/New_York", "Asia/Tokyo"])
def test_truth_equals_the_spec_applied_to_invoices(acct: Account, tz: str) -> None:
    truth = ground_truth(acct, timezone=tz)
    assert truth.as_of == acct.now
    assert_matches_invoices(acct, truth, min_keys=1000)


def test_truth_at_an_earlier_as_of(acct: Account) -> None:
    as_of = acct.now - 45 * DAY - 7 * 3600
    truth = ground_truth(acct, as_of=as_of)
    assert_matches_invoices(acct, truth)
    assert truth.current_month == date(2026, 9, 1)
    assert max(m for (_c, m) in truth.monthly) == date(2026, 9, 1)
    # a date means the end of that day in the time zone
    by_date = ground_truth(acct, as_of=date(2026, 9, 16))
    assert by_date.as_of == int(datetime(2026, 9, 17, tzinfo=UTC).timestamp()) - 1
    assert_matches_invoices(acct, by_date)


def test_movement_identity_every_month_and_currency(acct: Account) -> None:
    truth = ground_truth(acct)
    assert_identity(truth)
    for (cur, month), mt in truth.monthly.items():
        by_hand = movements_by_hand(truth, cur, month)
        assert by_hand["new"] == mt.new and by_hand["churn"] == mt.churn, (cur, month)
        assert by_hand["reactivation"] == mt.reactivation
        assert by_hand["expansion"] == mt.expansion and by_hand["contraction"] == mt.contraction
    currencies = {cur for cur, _m in truth.monthly}
    assert currencies == {"usd", "eur", "gbp"}
    closed = [mt for mt in truth.monthly.values() if not mt.is_current]
    assert sum(mt.new for mt in closed) > 0
    assert sum(mt.reactivation for mt in closed) > 0
    assert sum(mt.expansion for mt in closed) > 0
    assert sum(mt.contraction for mt in closed) > 0
    assert sum(mt.churn for mt in closed) > 0


def test_current_month_and_waiting() -> None:
    acct = generate_account(seed=11, customers=500, months=24)
    acct.advance(17)  # mid-month: some renewals paid, some still to come
    truth = ground_truth(acct)
    assert truth.current_month == date(2026, 11, 1)
    current = {cur: mt for (cur, m), mt in truth.monthly.items() if m == truth.current_month}
    assert all(mt.is_current for mt in current.values())
    assert sum(mt.waiting_mrr for mt in current.values()) > 0
    assert sum(mt.waiting_subscriptions for mt in current.values()) > 0
    assert_matches_invoices(acct, truth)
    assert_identity(truth)
    # current MRR per customer is the current month's
    for c, (_cur, v) in truth.customer_mrr.items():
        assert truth.customer_month_mrr[(c, truth.current_month)] == v > 0
    # a customer who is only waiting is not lost
    oct_ = date(2026, 10, 1)
    waiting_only = [
        c
        for c, w in truth.customer_waiting_mrr.items()
        if w > 0
        and truth.customer_month_mrr.get((c, oct_), 0) > 0
        and (c, truth.current_month) not in truth.customer_month_mrr
    ]
    assert waiting_only
    for cur, mt in current.items():
        by_hand = movements_by_hand(truth, cur, truth.current_month)
        assert by_hand == {
            "new": mt.new,
            "reactivation": mt.reactivation,
            "expansion": mt.expansion,
            "contraction": mt.contraction,
            "churn": mt.churn,
        }
    # waiting subscriptions, from the objects: active or past_due, no cancellation, a paid
    # positive line at the end of October and none at the end of November
    t_prev = int(datetime(2026, 11, 1, tzinfo=UTC).timestamp())
    t_now = int(datetime(2026, 12, 1, tzinfo=UTC).timestamp())
    paying: dict[str, set[int]] = {}
    for inv in acct.objects["invoice"].values():
        if inv["status"] != "paid" or inv["status_transitions"]["paid_at"] > acct.now:
            continue
        for ln in inv["lines"]["data"]:
            price = acct.objects["price"][ln["pricing"]["price_details"]["price"]]
            net = ln["amount"] - sum(d["amount"] for d in ln["discount_amounts"])
            if not ln["subscription"] or not price["recurring"] or net <= 0:
                continue
            if price["recurring"]["usage_type"] != "licensed":
                continue
            for t in (t_prev, t_now):
                if ln["period"]["start"] < t <= ln["period"]["end"]:
                    paying.setdefault(ln["subscription"], set()).add(t)
    waiting_by_cur: dict[str, int] = {}
    for sub in acct.objects["subscription"].values():
        if (
            sub["status"] in ("active", "past_due")
            and not sub["cancel_at_period_end"]
            and paying.get(sub["id"], set()) == {t_prev}
        ):
            waiting_by_cur[sub["currency"]] = waiting_by_cur.get(sub["currency"], 0) + 1
    assert waiting_by_cur == {
        cur: mt.waiting_subscriptions for cur, mt in current.items() if mt.waiting_subscriptions
    }
    # the waiting subscriptions are active ones whose renewal this month is unpaid
    for c in waiting_only[:20]:
        subs = [s for s in acct.objects["subscription"].values() if s["customer"] == c]
        assert any(
            s["status"] in ("active", "past_due") and not s["cancel_at_period_end"] for s in subs
        )


def _month_of(t: int) -> date:
    return datetime.fromtimestamp(t, UTC).date().replace(day=1)


def _monthly_cycle_price(acct: Account, inv: Obj) -> str | None:
    for ln in inv["lines"]["data"]:
        details = ln["parent"]["subscription_item_details"]
        price = acct.objects["price"][ln["pricing"]["price_details"]["price"]]
        rec = price["recurring"]
        if (
            details
            and not details["proration"]
            and rec
            and rec["usage_type"] == "licensed"
            and (rec["interval"], rec["interval_count"]) == ("month", 1)
            and ln["amount"] > 0
        ):
            return str(price["id"])
    return None


def _service_start(inv: Obj) -> int:
    """Start of the renewal's service period (its subscription lines start at creation)."""
    starts = {ln["period"]["start"] for ln in inv["lines"]["data"]}
    assert inv["created"] in starts
    return int(inv["created"])


def _single_sub_customers(acct: Account) -> set[str]:
    count: dict[str, int] = {}
    for s in acct.objects["subscription"].values():
        count[s["customer"]] = count.get(s["customer"], 0) + 1
    return {c for c, n in count.items() if n == 1}


def test_late_payment_counts_retroactively() -> None:
    """A renewal paid after failed attempts counts for its period once paid, not before."""
    acct = generate_account(seed=11, customers=500, months=24)
    single = _single_sub_customers(acct)
    checked = 0
    for inv in acct.objects["invoice"].values():
        if not (
            inv["status"] == "paid"
            and inv["attempt_count"] > 1
            and inv["billing_reason"] == "subscription_cycle"
            and inv["customer"] in single
        ):
            continue
        price = _monthly_cycle_price(acct, inv)
        if price is None:
            continue
        paid_at = inv["status_transitions"]["paid_at"]
        assert paid_at - inv["created"] > 2 * DAY
        key = (inv["customer"], price, _month_of(_service_start(inv)))
        before = ground_truth(acct, as_of=paid_at - 1)
        after = ground_truth(acct, as_of=paid_at)
        assert key not in before.customer_plan_month_mrr
        assert after.customer_plan_month_mrr[key] > 0
        assert_matches_invoices(acct, before)
        checked += 1
        if checked == 3:
            break
    assert checked > 0


def test_uncollectible_renewal_never_counts() -> None:
    acct = generate_account(seed=11, customers=500, months=24)
    truth = ground_truth(acct)
    single = _single_sub_customers(acct)
    checked = 0
    for inv in acct.objects["invoice"].values():
        if inv["status"] not in ("uncollectible", "void"):
            continue
        sub = acct.objects["subscription"][inv["parent"]["subscription_details"]["subscription"]]
        assert sub["status"] == "canceled"
        assert sub["cancellation_details"]["reason"] == "payment_failed"
        price = _monthly_cycle_price(acct, inv)
        if price is None or inv["customer"] not in single:
            continue
        month = _month_of(_service_start(inv))
        assert (inv["customer"], price, month) not in truth.customer_plan_month_mrr
        assert (inv["customer"], month) not in truth.customer_month_mrr
        checked += 1
    assert checked > 0


def test_simple_monthly_customer_by_hand(acct: Account) -> None:
    """A customer with one monthly subscription, no coupon, no change: MRR = price × qty
    in the months whose end falls in a paid period, 0 after a cancellation at period end."""
    truth = ground_truth(acct)
    subs_by_cust: dict[str, list[Obj]] = {}
    for s in acct.objects["subscription"].values():
        subs_by_cust.setdefault(s["customer"], []).append(s)
    checked = 0
    for cust, subs in subs_by_cust.items():
        if len(subs) != 1:
            continue
        s = subs[0]
        tl = acct.timelines[s["id"]]
        item = s["items"]["data"]
        if (
            len(item) != 1
            or tl.coupon
            or tl.changes
            or item[0]["price"]["recurring"]["interval"] != "month"
            or item[0]["price"]["recurring"]["interval_count"] != 1
            or item[0]["price"]["unit_amount"] == 0
            or not s["cancel_at_period_end"]
            or s["status"] != "canceled"
        ):
            continue
        invs = [
            i
            for i in acct.objects["invoice"].values()
            if i["customer"] == cust and i["status"] == "paid" and i["total"] > 0
        ]
        if any(len(i["lines"]["data"]) != 1 for i in invs):
            continue
        rate = item[0]["price"]["unit_amount"] * item[0]["quantity"]
        ended = s["ended_at"]
        expected: dict[date, int] = {}
        for i in invs:
            ps, pe = (
                i["lines"]["data"][0]["period"]["start"],
                i["lines"]["data"][0]["period"]["end"],
            )
            d = datetime.fromtimestamp(ps, UTC)
            # month ends T with ps < T <= pe
            y, m = d.year, d.month
            while True:
                y2, m2 = (y + 1, 1) if m == 12 else (y, m + 1)
                boundary = int(datetime(y2, m2, 1, tzinfo=UTC).timestamp())
                if boundary > pe:
                    break
                if boundary > ps:
                    expected[date(y, m, 1)] = rate
                y, m = y2, m2
        got = {m: v for (c, m), v in truth.customer_month_mrr.items() if c == cust}
        assert got == expected, (cust, got, expected)
        last = max(expected) if expected else None
        if last is not None:
            end_month = datetime.fromtimestamp(ended, UTC).date().replace(day=1)
            assert last <= end_month
        checked += 1
    assert checked >= 5


def test_as_of_after_the_clock_is_refused(acct: Account) -> None:
    with pytest.raises(UsageError, match="after the sandbox account's clock"):
        ground_truth(acct, as_of=acct.now + 1)
    with pytest.raises(UsageError):
        ground_truth(acct, as_of=date(2026, 11, 1))  # the end of that day


def test_to_json_and_determinism() -> None:
    a = generate_account(seed=21, customers=120, months=12)
    b = generate_account(seed=21, customers=120, months=12)
    c = generate_account(seed=22, customers=120, months=12)
    ta, tb, tc = ground_truth(a), ground_truth(b), ground_truth(c)
    doc = ta.to_json()
    json.dumps(doc)
    assert doc["monthly"] and doc["customer_mrr"]
    assert {
        "currency",
        "month",
        "mrr",
        "new",
        "reactivation",
        "expansion",
        "contraction",
        "churn",
    } <= set(doc["monthly"][0])
    assert truth_hash(ta) == truth_hash(tb)
    assert truth_hash(ta) != truth_hash(tc)
    # advancing both the same way keeps them equal
    a.advance(20)
    b.advance(20)
    assert truth_hash(ground_truth(a)) == truth_hash(ground_truth(b))
    assert_matches_invoices(a, ground_truth(a))


def test_renewals_exactly_at_month_boundaries(acct: Account) -> None:
    """A period [Jun 1 00:00, Jul 1 00:00) counts in June (its end is June's end instant)
    and not in July: without a paid renewal at Jul 1 the customer is lost in July."""
    truth = ground_truth(acct)
    single = _single_sub_customers(acct)
    checked = lost = 0
    for sub in acct.objects["subscription"].values():
        anchor = datetime.fromtimestamp(sub["billing_cycle_anchor"], UTC)
        tl = acct.timelines[sub["id"]]
        items = sub["items"]["data"]
        if (
            (anchor.day, anchor.hour, anchor.minute, anchor.second) != (1, 0, 0, 0)
            or sub["customer"] not in single
            or tl.coupon
            or tl.changes
            or len(items) != 1
            or items[0]["price"]["recurring"]["interval"] != "month"
            or items[0]["price"]["recurring"]["interval_count"] != 1
            or items[0]["price"]["unit_amount"] == 0
        ):
            continue
        price = items[0]["price"]
        rate = price["unit_amount"] * items[0]["quantity"]
        paid_starts = set()
        for p in tl.periods:
            if p.trial or p.invoice.paid_at is None or p.invoice.paid_at > acct.now:
                continue
            start = datetime.fromtimestamp(p.start, UTC)
            assert (start.day, start.hour, start.minute, start.second) == (1, 0, 0, 0)
            month = start.date()
            assert truth.customer_plan_month_mrr[(sub["customer"], price["id"], month)] == rate
            paid_starts.add(p.start)
            checked += 1
        for p in tl.periods:
            if p.start in paid_starts and p.end not in paid_starts and p.end <= acct.now:
                next_month = datetime.fromtimestamp(p.end, UTC).date()
                assert (sub["customer"], next_month) not in truth.customer_month_mrr
                lost += 1
    assert checked > 0 and lost > 0
