"""The worked examples of shared/spec/metrics.md, through the pure engine."""

from __future__ import annotations

from etl.metrics.engine import ExpectedItem, Params, compute_customer
from tests.metrics.engine_helpers import (
    check_identities,
    customer_mrr,
    line,
    monthly,
    plan_rows,
    run,
    ts,
)


def test_yearly_line_counts_in_each_of_its_twelve_months() -> None:
    comp = run([line(1, "2024-01-15", "2025-01-15", 120_000, interval="year")], as_of="2025-02-10")
    mrr = customer_mrr(comp, 1)
    assert mrr == {f"2024-{m:02d}": 10_000 for m in range(1, 13)}
    rows = monthly(comp)
    assert rows["2024-01"]["new_mrr"] == 10_000 and rows["2024-01"]["new_customers"] == 1
    assert rows["2025-01"]["lost_mrr"] == 10_000 and rows["2025-01"]["mrr"] == 0
    assert rows["2024-06"]["arr"] == 120_000
    check_identities(comp)


def test_quarterly_line_is_a_third_per_month() -> None:
    comp = run([line(1, "2024-03-01", "2024-06-01", 9_000, count=3)], as_of="2024-08-01")
    assert customer_mrr(comp, 1) == {"2024-03": 3_000, "2024-04": 3_000, "2024-05": 3_000}
    check_identities(comp)


def test_weekly_lines_make_52_twelfths_of_the_week() -> None:
    # $12 a week, billed every week of February 2024 (and the week across Feb/Mar).
    lines = [
        line(1, f"2024-02-{d:02d}", f"2024-02-{d + 7:02d}", 1_200, interval="week")
        for d in (1, 8, 15)
    ] + [line(1, "2024-02-22", "2024-02-29", 1_200, interval="week")]
    lines.append(line(1, "2024-02-29", "2024-03-07", 1_200, interval="week"))
    comp = run(lines, as_of="2024-03-05")
    # only the line over Feb 29 → Mar 7 is active at the end of February: 1200 × 52 / 12
    assert customer_mrr(comp, 1) == {"2024-02": 5_200}
    check_identities(comp)


def test_daily_interval_uses_365_days() -> None:
    comp = run(
        [line(1, "2024-01-31", "2024-02-01", 100, interval="day", count=1)], as_of="2024-02-05"
    )
    assert customer_mrr(comp, 1) == {"2024-01": 3_042}  # 100 × 365 / 12 = 3041.67 → 3042


def test_discounts_reduce_mrr_and_tax_is_excluded() -> None:
    # net_amount already holds amount − discounts; tax comes back only with include_tax.
    ln = line(1, "2024-01-01", "2024-02-01", 7_500, tax=1_500)
    assert customer_mrr(run([ln], as_of="2024-01-20"), 1) == {"2024-01": 7_500}
    assert customer_mrr(run([ln], as_of="2024-01-20", include_tax=True), 1) == {"2024-01": 9_000}


def test_prorated_upgrade_half_way_through_the_month() -> None:
    lines = [
        line(1, "2024-05-01", "2024-06-01", 1_000, plan="ten", sub="s1"),
        line(1, "2024-06-01", "2024-07-01", 1_000, plan="ten", sub="s1"),
        # upgrade at Jun 16 00:00: credit for the unused half of $10, charge for half of $20
        line(1, "2024-06-16", "2024-07-01", -500, plan="ten", kind="proration", sub="s1"),
        line(1, "2024-06-16", "2024-07-01", 1_000, plan="twenty", kind="proration", sub="s1"),
        line(1, "2024-07-01", "2024-08-01", 2_000, plan="twenty", sub="s1"),
    ]
    comp = run(lines, as_of="2024-07-20")
    assert customer_mrr(comp, 1) == {"2024-05": 1_000, "2024-06": 2_000, "2024-07": 2_000}
    june = monthly(comp)["2024-06"]
    assert june["expansion_mrr"] == 1_000 and june["contraction_mrr"] == 0
    plans = plan_rows(comp, "2024-06")
    # the credit line is −$10/month: the old plan ends the month at 0
    assert plans["ten"]["total_mrr"] == 0 and plans["ten"]["moved_out_mrr"] == 1_000
    assert plans["twenty"]["total_mrr"] == 2_000 and plans["twenty"]["moved_in_mrr"] == 2_000
    assert plans["twenty"]["expansion_mrr"] - plans["ten"]["contraction_mrr"] == 1_000
    assert june["subscriptions"] == 1
    check_identities(comp)


def test_proration_rate_uses_the_full_billing_period_it_ends_with() -> None:
    # Quarterly plan, proration over the last 46 days of a 92-day quarter (Apr 1 → Jul 1).
    ln = line(1, "2024-05-16", "2024-07-01", 4_600, kind="proration", count=3)
    comp = run([ln], as_of="2024-07-10")
    # 4600 × (91 days / 46 days) / 3 months: Apr 1 → Jul 1 is 91 days → 3033.33 → 3033
    assert customer_mrr(comp, 1) == {"2024-05": 3_033, "2024-06": 3_033}


def test_trial_and_free_periods_make_no_mrr() -> None:
    lines = [
        line(1, "2024-01-10", "2024-01-24", 0, plan="pro"),  # trial invoice of $0
        line(1, "2024-01-24", "2024-02-24", 4_900, plan="pro"),
    ]
    comp = run(lines, as_of="2024-03-10")
    assert customer_mrr(comp, 1) == {"2024-01": 4_900}
    assert monthly(comp)["2024-01"]["new_customers"] == 1
    free = run([line(2, "2024-01-01", "2024-02-01", 0)], as_of="2024-03-01")
    assert free.customer_rows == [] and monthly(free) == {}


def test_churn_at_period_end() -> None:
    lines = [
        line(1, "2024-04-01", "2024-05-01", 5_000),
        line(1, "2024-05-01", "2024-06-01", 5_000),  # cancelled at period end: no June invoice
    ]
    comp = run(lines, as_of="2024-07-01")
    rows = monthly(comp)
    assert rows["2024-05"]["mrr"] == 5_000
    assert rows["2024-06"]["lost_mrr"] == 5_000 and rows["2024-06"]["lost_customers"] == 1
    assert rows["2024-06"]["mrr"] == 0
    check_identities(comp)


def test_mid_month_period_counts_in_the_month_it_spans_the_end_of() -> None:
    # May 15 → Jun 15 counts in May, not June: unpaid renewal on Jun 15 loses June.
    comp = run([line(1, "2024-05-15", "2024-06-15", 3_000)], as_of="2024-07-01")
    assert customer_mrr(comp, 1) == {"2024-05": 3_000}
    assert monthly(comp)["2024-06"]["lost_mrr"] == 3_000


def _late_renewal(status: str, due: str | None = None) -> list:
    return [
        line(1, "2024-04-15", "2024-05-15", 3_000, sub="s1"),
        line(1, "2024-05-15", "2024-06-15", 3_000, sub="s1"),
        line(1, "2024-06-15", "2024-07-15", 3_000, sub="s1", status=status, due=due),
    ]


def test_renewal_paid_late() -> None:
    # Before payment (invoice open): the renewal does not count, June loses the customer…
    open_ = run(_late_renewal("open", due="2024-06-15"), as_of="2024-07-20")
    assert monthly(open_)["2024-06"]["lost_mrr"] == 3_000
    # …once paid (whenever), June counts it: the month depends on the data, not on the date paid.
    paid = run(_late_renewal("paid"), as_of="2024-07-20")
    assert customer_mrr(paid, 1) == {"2024-04": 3_000, "2024-05": 3_000, "2024-06": 3_000}
    assert monthly(paid)["2024-06"]["lost_mrr"] == 0
    check_identities(open_)
    check_identities(paid)


def test_past_due_grace_days_let_an_open_invoice_count() -> None:
    lines = _late_renewal("open", due="2024-06-15")
    assert customer_mrr(run(lines, as_of="2024-06-20", grace=7), 1).get("2024-06") == 3_000
    assert customer_mrr(run(lines, as_of="2024-06-23", grace=7), 1).get("2024-06") is None
    assert customer_mrr(run(lines, as_of="2024-06-20", grace=0), 1).get("2024-06") is None


def test_waiting_renewal_in_the_current_month_is_not_lost() -> None:
    lines = _late_renewal("open", due="2024-06-15")
    params = Params(as_of=ts("2024-06-20"))
    item = ExpectedItem(
        1, "s1", "past_due", False, None, None, "basic", "usd", 3_000, 1, "month", 1
    )
    res = compute_customer(1, lines, params, [item])
    june = next(r for r in res.customer_rows if r[1].isoformat() == "2024-06-01")
    # mrr 0 charged so far, 3000 waiting, and no churn
    assert june[3] == 0 and june[8] == 3_000 and june[9] == 1 and june[5] is None
    assert res.snapshot is not None and res.snapshot.waiting_mrr == 3_000
    comp = run(lines, as_of="2024-06-20", expected=[item])
    row = monthly(comp)["2024-06"]
    assert row["waiting_mrr"] == 3_000 and row["waiting_subscriptions"] == 1
    assert row["lost_mrr"] == 0 and row["is_current"]
    plan = plan_rows(comp, "2024-06")["basic"]
    assert plan["waiting_mrr"] == 3_000 and plan["end_of_term_mrr"] == 3_000
    check_identities(comp)
    # a subscription set to cancel at period end is not waiting: the customer is lost
    gone = item._replace(cancel_at_period_end=True)
    assert monthly(run(lines, as_of="2024-06-20", expected=[gone]))["2024-06"]["lost_mrr"] == 3_000


def test_reactivation_after_a_gap() -> None:
    lines = [
        line(1, "2024-01-01", "2024-02-01", 2_000),
        line(1, "2024-04-01", "2024-05-01", 2_500),
        line(2, "2024-04-01", "2024-05-01", 1_000),
    ]
    comp = run(lines, as_of="2024-06-01")
    april = monthly(comp)["2024-04"]
    assert april["new_mrr"] == 3_500 and april["new_customers"] == 2
    assert april["reactivation_mrr"] == 2_500 and april["reactivated_customers"] == 1
    check_identities(comp)


def test_plan_switch_moves_mrr_out_of_one_plan_and_into_another() -> None:
    lines = [
        line(1, "2024-05-01", "2024-06-01", 1_000, plan="a"),
        line(1, "2024-06-01", "2024-07-01", 1_500, plan="b"),
        line(2, "2024-05-01", "2024-06-01", 1_000, plan="a"),
        line(2, "2024-06-01", "2024-07-01", 800, plan="b"),
    ]
    comp = run(lines, as_of="2024-06-20")
    june = monthly(comp)["2024-06"]
    assert june["expansion_mrr"] == 500 and june["contraction_mrr"] == 200
    plans = plan_rows(comp, "2024-06")
    assert plans["a"]["moved_out_mrr"] == 2_000 and plans["a"]["total_mrr"] == 0
    assert plans["b"]["moved_in_mrr"] == 2_300 and plans["b"]["total_customers"] == 2
    assert plans["b"]["expansion_mrr"] == 2_300 and plans["a"]["contraction_mrr"] == 2_000
    check_identities(comp)


def test_one_time_purchase_is_revenue_not_mrr() -> None:
    lines = [
        line(1, "2024-03-05", "2024-03-05", 50_000, plan=None, kind="one_time"),
        line(1, "2024-03-01", "2024-04-01", 1_000),
    ]
    comp = run(lines, as_of="2024-03-20")
    assert customer_mrr(comp, 1) == {"2024-03": 1_000}
    snap = comp.snapshots[0]
    assert snap.total_contract_value == 51_000 and snap.current_mrr == 1_000


def test_metered_lines_are_revenue_not_mrr() -> None:
    comp = run([line(1, "2024-03-01", "2024-04-01", 7_000, kind="metered")], as_of="2024-03-20")
    assert comp.customer_rows == [] and comp.snapshots[0].total_contract_value == 7_000


def test_unpaid_void_and_draft_invoices_count_for_nothing() -> None:
    lines = [
        line(1, "2024-03-01", "2024-04-01", 1_000, status=s)
        for s in ("open", "void", "draft", "uncollectible")
    ]
    comp = run(lines, as_of="2024-03-20")
    assert comp.customer_rows == [] and comp.snapshots[0].total_contract_value == 0


def test_mrr_never_below_zero_and_rounded_once_per_customer_plan_month() -> None:
    lines = [
        # three thirds of a cent each: summed exactly then rounded once → 1 cent… per plan
        line(1, "2024-03-01", "2024-06-01", 1, count=3, plan="p", sub="x"),
        line(1, "2024-03-01", "2024-06-01", 1, count=3, plan="p", sub="y"),
        line(1, "2024-03-01", "2024-06-01", 1, count=3, plan="p", sub="z"),
        # a credit bigger than the charge: clamps to 0
        line(2, "2024-03-01", "2024-04-01", -500, plan="q"),
    ]
    comp = run(lines, as_of="2024-04-10")
    assert customer_mrr(comp, 1) == {"2024-03": 1, "2024-04": 1}
    assert customer_mrr(comp, 2) == {}


def test_month_boundaries_follow_the_reporting_time_zone() -> None:
    # Mar 1 02:00 UTC → Apr 1 02:00 UTC is Feb 29 21:00 → Mar 31 22:00 in New York: there it
    # spans the end of February (Mar 1 05:00 UTC) and not the end of March (Apr 1 04:00 UTC).
    ln = line(1, "2024-03-01T02:00:00", "2024-04-01T02:00:00", 1_000)
    utc = run([ln], as_of="2024-04-20")
    ny = run([ln], as_of="2024-04-20", timezone="America/New_York")
    assert customer_mrr(utc, 1) == {"2024-03": 1_000}
    assert customer_mrr(ny, 1) == {"2024-02": 1_000}


def test_closed_months_do_not_depend_on_when_they_are_computed() -> None:
    lines = [
        line(1, "2024-01-01", "2024-02-01", 1_000),
        line(1, "2024-02-01", "2024-03-01", 1_200),
        line(2, "2024-02-10", "2025-02-10", 60_000, interval="year"),
    ]
    early = run(lines, as_of="2024-04-02")
    late = run(lines, as_of="2025-06-30")
    closed = {k: v for k, v in monthly(early).items() if k < "2024-04"}
    assert closed == {k: v for k, v in monthly(late).items() if k < "2024-04"}


def test_arpa_rounds_half_up() -> None:
    lines = [line(c, "2024-01-01", "2024-02-01", a) for c, a in ((1, 1_000), (2, 1_001))]
    row = monthly(run(lines, as_of="2024-01-20"))["2024-01"]
    assert row["customers"] == 2 and row["arpa"] == 1_001  # 1000.5 → 1001


def test_waiting_mrr_prices_the_renewal_with_its_coupon_or_its_invoice() -> None:
    from decimal import Decimal

    paid = [
        line(1, "2024-04-15", "2024-05-15", 2_400, sub="s1"),
        line(1, "2024-05-15", "2024-06-15", 2_400, sub="s1"),
    ]
    base = ExpectedItem(1, "s1", "active", False, None, None, "basic", "usd", 3_000, 1, "month", 1)
    forever = base._replace(coupon_duration="forever", percent_off=Decimal("20"))
    ended = base._replace(
        coupon_duration="repeating", percent_off=Decimal("20"),
        discount_end=ts("2024-06-01"), period_end=ts("2024-06-15"),
    )  # fmt: skip
    params = Params(as_of=ts("2024-06-20"))
    assert compute_customer(1, paid, params, [forever]).snapshot.waiting_mrr == 2_400  # type: ignore[union-attr]
    assert compute_customer(1, paid, params, [ended]).snapshot.waiting_mrr == 3_000  # type: ignore[union-attr]
    # The renewal is already invoiced (open, with a discount): expect exactly that invoice.
    invoiced = [*paid, line(1, "2024-06-15", "2024-07-15", 2_100, sub="s1", status="open")]
    res = compute_customer(1, invoiced, params, [forever])
    assert res.snapshot is not None and res.snapshot.waiting_mrr == 2_100
    june = next(r for r in res.customer_rows if r[1].isoformat() == "2024-06-01")
    assert june[5] == "contraction" and june[6] == 300  # 2400 last month, 2100 expected
