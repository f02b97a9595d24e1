"""shared/reference/mrr-playbook imported as monthly invoices gives its README's figures,
and the identities hold for every month."""

from __future__ import annotations

from datetime import date, datetime
from types import SimpleNamespace

from sqlalchemy import Engine, select

from etl.config import load_settings
from etl.db.models import CustomerMrr, CustomerPlanMrr, MrrByPlan, MrrMonthly
from etl.db.tables import table_of
from etl.imports.invoices import create_manual_invoices
from etl.metrics.recompute import recompute
from etl.metrics.revenue import refresh_revenue_lines
from etl.periods import month_index
from tests.metrics.engine_helpers import check_identities
from tests.metrics.helpers import load_playbook, playbook_periods

README = {
    # month: (MRR, new, reactivation, expansion, contraction, churn) in dollars
    "2018-09": (340, 30, 50, 0, 0, 0),
    "2019-12": (1255, 100, 0, 50, 30, 705),
    "2020-01": (175, 175, 0, 0, 0, 1255),
}


def _table(engine: Engine, model: type) -> list[dict]:
    t = table_of(model)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(t))]


def test_playbook_figures_and_identities(engine: Engine, db_url: str) -> None:
    # One scenario, its figures checked in the order of the README: clearer whole.
    settings = load_settings(database_url=db_url)
    now = datetime(2020, 3, 15)
    with engine.begin() as conn:
        invoices = load_playbook(conn)
        create_manual_invoices(conn, settings, invoices, now=now, derive=refresh_revenue_lines)
    report = recompute(engine, settings, as_of=now)
    assert report.lines == len(invoices) == 352

    monthly = {
        r["month"].isoformat()[:7]: r
        for r in _table(engine, MrrMonthly)
        if r["basis"] == "native" and r["currency"] == "usd"
    }
    for month, (mrr, new, react, exp, contr, churn) in README.items():
        r = monthly[month]
        got = (
            r["mrr"],
            r["new_mrr"] - r["reactivation_mrr"],
            r["reactivation_mrr"],
            r["expansion_mrr"],
            r["contraction_mrr"],
            r["lost_mrr"],
        )
        assert got == tuple(100 * x for x in (mrr, new, react, exp, contr, churn)), month

    # Every month's MRR equals the periods running in it (an oracle straight from the CSV).
    expected: dict[int, int] = {}
    for p in playbook_periods():
        start = month_index(date.fromisoformat(p["start_date"]))
        end = month_index(date.fromisoformat(p["end_date"]))
        for m in range(start, end):
            expected[m] = expected.get(m, 0) + 100 * int(p["monthly_amount"])
    got_mrr = {month_index(r["month"]): r["mrr"] for r in monthly.values() if r["mrr"]}
    assert got_mrr == expected

    comp = SimpleNamespace(
        monthly=list(monthly.values()),
        by_plan=_table(engine, MrrByPlan),
        plan_rows=[
            (r["customer_id"], r["plan_id"], r["month"], r["currency"], r["mrr"])
            for r in _table(engine, CustomerPlanMrr)
        ],
        customer_rows=[
            (r["customer_id"], r["month"], r["currency"], r["mrr"])
            for r in _table(engine, CustomerMrr)
        ],
    )
    check_identities(comp)  # type: ignore[arg-type]
    assert len(monthly) >= 28

    # The analysts' views agree with the tables.
    with engine.connect() as conn:
        bridge = conn.exec_driver_sql(
            "SELECT month, starting_mrr, ending_mrr, new_mrr, reactivation_mrr, churned_mrr "
            "FROM mrr_movements WHERE basis = 'native' ORDER BY month"
        ).all()
        per_customer = conn.exec_driver_sql(
            "SELECT SUM(mrr) FROM customer_mrr_monthly WHERE month = '2019-12-01'"
        ).scalar_one()
        per_plan = conn.exec_driver_sql(
            "SELECT SUM(total_mrr), COUNT(amount) FROM plan_mrr_monthly WHERE month = '2019-12-01'"
        ).one()
    by_month = {str(r[0])[:7]: r for r in bridge}
    assert by_month["2019-12"][1:] == (184_000, 125_500, 10_000, 0, 70_500)
    assert by_month["2018-09"][3:5] == (3_000, 5_000)
    assert per_customer == 125_500 and per_plan[0] == 125_500 and per_plan[1] > 0
