"""Revenue lines from Stripe-shaped and imported invoices: one table, one code path."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from fractions import Fraction

from sqlalchemy import Engine, delete, insert, select, update

from etl.config import load_settings
from etl.db import tables
from etl.db.models import Invoice, InvoiceLine
from etl.imports.invoices import (
    create_manual_invoices,
    delete_manual_invoice,
    manual_invoice_to_api,
    validate_invoice_input,
)
from etl.metrics.engine import Aggregates, reporting_rows
from etl.metrics.revenue import refresh_revenue_lines
from etl.periods import month_index
from tests.metrics.helpers import NOW, add_customers, add_plan, model_row

REV = tables.revenue_lines


def _setup(conn) -> None:  # type: ignore[no-untyped-def]
    add_customers(conn, [1, 2])
    add_plan(conn, "price_lic", 1_000, source="stripe_price")
    add_plan(conn, "price_met", 5, usage_type="metered", source="stripe_price")
    add_plan(conn, "price_once", 9_900, None, source="stripe_price")
    add_plan(conn, "price_incl", 1_190, tax_behavior="inclusive", source="stripe_price")
    t0, t1 = datetime(2024, 5, 1), datetime(2024, 6, 1)
    conn.execute(
        insert(tables.invoices),
        [
            model_row(Invoice, id="in_1", customer_id=1, status="paid", currency="usd",
                 subscription_id="sub_1", updated_at=NOW),
            model_row(Invoice, id="in_2", customer_id=2, status="open", currency="usd",
                 due_date=t1, updated_at=NOW),
        ],
    )  # fmt: skip
    base = {"customer_id": None, "currency": "usd", "period_start": t0, "period_end": t1,
            "updated_at": NOW}  # fmt: skip
    lines = [
        ("il_sub", "in_1", "price_lic", "subscription", False, 3_000, 300, 0, 0),
        ("il_pro", "in_1", "price_lic", "invoiceitem", True, -500, 0, 0, 0),
        ("il_met", "in_1", "price_met", "subscription", False, 420, 0, 0, 0),
        ("il_once", "in_1", "price_once", "invoiceitem", False, 9_900, 0, 0, 0),
        ("il_item", "in_1", None, "invoiceitem", False, 1_234, 0, 0, 0),
        ("il_incl", "in_2", "price_incl", "subscription", False, 1_190, 0, 190, 190),
    ]
    conn.execute(
        insert(tables.invoice_lines),
        [
            model_row(InvoiceLine, id=i, invoice_id=inv, plan_id=p, line_type=lt, proration=pr,
                 amount=a, discount_amount=d, tax_amount=tax, inclusive_tax_amount=incl,
                 subscription_id=None, **base)
            for i, inv, p, lt, pr, a, d, tax, incl in lines
        ],
    )  # fmt: skip


def _rev(conn) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    return {r.line_id: dict(r._mapping) for r in conn.execute(select(REV))}


def test_kinds_amounts_and_dirty_marks(engine: Engine, db_url: str) -> None:
    settings = load_settings(database_url=db_url)
    with engine.begin() as conn:
        _setup(conn)
        assert refresh_revenue_lines(conn, settings) == {1, 2}
        rev = _rev(conn)
        assert {k: v["kind"] for k, v in rev.items()} == {
            "il_sub": "subscription",
            "il_pro": "proration",
            "il_met": "metered",
            "il_once": "one_time",
            "il_item": "one_time",
            "il_incl": "subscription",
        }
        assert rev["il_sub"]["net_amount"] == 2_700 and rev["il_sub"]["subscription_id"] == "sub_1"
        # tax-inclusive price: the inclusive tax is not revenue
        assert rev["il_incl"]["amount"] == 1_000 and rev["il_incl"]["net_amount"] == 1_000
        assert rev["il_incl"]["tax_amount"] == 190 and rev["il_incl"]["invoice_status"] == "open"
        assert rev["il_sub"]["interval"] == "month" and rev["il_once"]["interval"] is None
        assert {r[0] for r in conn.execute(select(tables.dirty_customers.c.customer_id))} == {1, 2}

        conn.execute(delete(tables.dirty_customers))
        # Nothing changed: nobody is dirty.
        assert refresh_revenue_lines(conn, settings, invoice_ids=["in_1", "in_2"]) == set()
        # A line disappears, an invoice is paid: only their customers are affected.
        conn.execute(delete(tables.invoice_lines).where(tables.invoice_lines.c.id == "il_item"))
        conn.execute(
            update(tables.invoices).where(tables.invoices.c.id == "in_2").values(status="paid")
        )
        assert refresh_revenue_lines(conn, settings, invoice_ids=["in_1", "in_2"]) == {1, 2}
        rev = _rev(conn)
        assert "il_item" not in rev and rev["il_incl"]["invoice_status"] == "paid"
        # The whole invoice disappears (full refresh finds orphans).
        conn.execute(
            delete(tables.invoice_lines).where(tables.invoice_lines.c.invoice_id == "in_2")
        )
        conn.execute(delete(tables.invoices).where(tables.invoices.c.id == "in_2"))
        assert refresh_revenue_lines(conn, settings) == {2}
        assert "il_incl" not in _rev(conn)


def test_imported_invoices_share_the_path_and_round_trip(engine: Engine, db_url: str) -> None:
    settings = load_settings(database_url=db_url)
    with engine.begin() as conn:
        add_customers(conn, [7])
        add_plan(conn, "hobby_monthly", 2_900)
        rows, errors = validate_invoice_input(
            conn, settings, [{"customer": "c7@example.com", "plan": "hobby_monthly"}], now=NOW
        )
        assert errors == [] and rows[0]["date_paid"] == NOW
        assert rows[0]["period_end"] == datetime(2020, 4, 15) and rows[0]["amount"] == 2_900
        created = create_manual_invoices(
            conn,
            settings,
            [{"id": "x1", "customer": "7", "plan": "hobby_monthly", "discount": 400,
              "date_paid": "2020-03-01T10:00:00+02:00", "quantity": "2"}],
            now=NOW, derive=refresh_revenue_lines,
        )  # fmt: skip
        api = created[0]
        assert api == {
            "id": "x1",
            "subscription_id": "sub_man_7_x1",
            "object": "invoice",
            "amount_paid": 5_400,
            "discount": 400,
            "amount": 5_800,
            "currency": "usd",
            "customer": "7",
            "plan": "hobby_monthly",
            "date_paid": "2020-03-01T08:00:00+00:00",
            "date": "2020-03-01T08:00:00+00:00",
            "quantity": 2,
            "period_start": "2020-03-01T08:00:00+00:00",
            "period_end": "2020-04-01T08:00:00+00:00",
            "description": "",
        }
        stored = conn.execute(select(tables.invoices).where(tables.invoices.c.id == "x1")).one()
        assert manual_invoice_to_api(stored) == api
        rev = _rev(conn)["x1:1"]
        assert rev["source"] == "manual" and rev["kind"] == "subscription"
        assert rev["net_amount"] == 5_400
        assert delete_manual_invoice(conn, settings, "x1", derive=refresh_revenue_lines) is True
        assert delete_manual_invoice(conn, settings, "x1", derive=refresh_revenue_lines) is False
        assert _rev(conn) == {}


def test_reporting_currency_conversion_and_fx_impact() -> None:
    from datetime import date

    agg = Aggregates()
    # eur: 100.00 in Jan, 100.00 in Feb (no movement); usd 50.00 new in Feb
    agg.monthly[(date(2024, 1, 1), "eur")] = [10_000, 1, 1, 10_000, 1, 0, 0, 0, 0, 0, 0, 0, 0]
    agg.monthly[(date(2024, 2, 1), "eur")] = [10_000, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    agg.monthly[(date(2024, 2, 1), "usd")] = [5_000, 1, 1, 5_000, 1, 0, 0, 0, 0, 0, 0, 0, 0]
    agg.monthly[(date(2024, 3, 1), "gbp")] = [1_000, 1, 1, 1_000, 1, 0, 0, 0, 0, 0, 0, 0, 0]
    rates = {
        ("eur", month_index(date(2024, 1, 1))): Decimal("1.10"),
        ("eur", month_index(date(2024, 2, 1))): Fraction(12, 10),
    }
    rows, missing = reporting_rows(agg, rates, "usd", month_index(date(2024, 3, 1)))
    by = {r["month"].isoformat()[:7]: r for r in rows}
    assert by["2024-01"]["mrr"] == 11_000 and by["2024-01"]["fx_impact_mrr"] == 0
    # Feb: 100 eur at 1.2 = 120 + 50 usd; the eur rate change is fx impact, not a movement
    assert by["2024-02"]["mrr"] == 17_000 and by["2024-02"]["new_mrr"] == 5_000
    assert by["2024-02"]["fx_impact_mrr"] == 1_000
    # Mar: no gbp rate, eur and usd gone: the gbp MRR is named, not silently dropped
    assert by["2024-03"]["missing_rates"] == "gbp" and missing == {"gbp": ["2024-03"]}
    for m in ("2024-02", "2024-03"):
        r = by[m]
        prev = by["2024-01" if m == "2024-02" else "2024-02"]["mrr"]
        assert (
            r["mrr"]
            == prev
            + r["new_mrr"]
            + r["expansion_mrr"]
            - r["contraction_mrr"]
            - r["lost_mrr"]
            + r["fx_impact_mrr"]
        )
