"""Normalization of Stripe objects in both shapes: Stripe's own examples (fixtures3,
the current API) and hand-written objects as API versions before 2025-03-31 sent them."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from etl.normalize import objects as n

# Stripe's own example objects (fixtures3, current API), as excerpted in the repository.
FIXTURES = Path(__file__).parents[1] / "sandbox" / "fixtures" / "stripe_fixtures3_excerpt.json"


def fx(name: str) -> dict[str, Any]:
    return copy.deepcopy(json.loads(FIXTURES.read_text())["resources"][name])


def test_customer_current_shape_and_extra_id_and_card_country() -> None:
    c = fx("customer")
    c.update(email="Ann@Example.com", name="Ann", metadata={"crm": "A-1"})
    c["address"].update(country="us", state="OH")
    row = n.normalize_customer(c, extra_id_key="crm")
    assert row["stripe_id"] == c["id"]
    assert (row["email"], row["name"], row["currency"]) == ("Ann@Example.com", "Ann", "usd")
    assert (row["country"], row["state"], row["extra_id"]) == ("US", "OH", "A-1")
    # No address: the default card's country; a state only for the US.
    c["address"] = None
    c["default_source"] = {"id": "card_1", "object": "card", "country": "FI"}
    row = n.normalize_customer(c, extra_id_key="crm")
    assert (row["country"], row["state"]) == ("FI", None)
    # Legacy: default_source is an id into the embedded sources list.
    c["default_source"] = "card_2"
    c["sources"] = {"data": [{"id": "card_2", "object": "card", "country": "DE"}]}
    assert n.normalize_customer(c)["country"] == "DE"
    assert n.normalize_customer(c)["extra_id"] is None


def test_deleted_customer() -> None:
    assert n.normalize_customer({"id": "cus_1", "object": "customer", "deleted": True}) == {
        "stripe_id": "cus_1",
        "deleted": True,
    }


def test_price_and_legacy_plan() -> None:
    p = n.normalize_price(fx("price"))
    assert p["source"] == "stripe_price"
    assert (p["amount"], p["currency"], p["interval"], p["interval_count"]) == (
        2000,
        "usd",
        "month",
        1,
    )
    assert p["product_id"] == "prod_QXg1hqf4jFNsqG"
    plan = n.normalize_price(fx("plan"))
    assert plan["source"] == "stripe_plan"
    assert (plan["amount"], plan["interval"], plan["usage_type"]) == (2000, "month", "licensed")


def test_coupon_percent_is_exact() -> None:
    row = n.normalize_coupon(fx("coupon"))
    assert row["percent_off"] == Decimal("25.5")
    assert row["duration"] == "forever"


def test_subscription_current_periods_come_from_items() -> None:
    s = fx("subscription")
    s["items"]["data"][0].update(
        current_period_start=1_700_000_000, current_period_end=1_702_592_000
    )
    norm = n.normalize_subscription(s)
    sub = norm.rows["subscriptions"][0]
    item = norm.rows["subscription_items"][0]
    assert sub["current_period_start"] == datetime(2023, 11, 14, 22, 13, 20)
    assert item["current_period_end"] == sub["current_period_end"]
    assert item["plan_id"] == "price_1PgafmB7WZ01zgkW6dKueIc5"
    assert sub["stripe_customer_id"] == "cus_QXg1o8vcGmoR32"


def _legacy_subscription() -> dict[str, Any]:
    s = fx("subscription")
    for it in s["items"]["data"]:
        it.pop("current_period_start")
        it.pop("current_period_end")
    s.update(current_period_start=1_600_000_000, current_period_end=1_602_592_000)
    s["discount"] = {
        "id": "di_1",
        "object": "discount",
        "coupon": {"id": "SAVE10", "object": "coupon", "percent_off": 10},
        "customer": s["customer"],
        "subscription": s["id"],
        "start": 1_600_000_000,
        "end": None,
    }
    s["discounts"] = ["di_1"]
    return s


def test_subscription_legacy_periods_and_discount() -> None:
    norm = n.normalize_subscription(_legacy_subscription())
    sub = norm.rows["subscriptions"][0]
    assert sub["current_period_start"] == datetime(2020, 9, 13, 12, 26, 40)
    assert norm.rows["subscription_items"][0]["current_period_start"] == sub["current_period_start"]
    assert sub["coupon_id"] == "SAVE10"
    assert norm.rows["discounts"][0]["coupon_id"] == "SAVE10"


def test_invoice_current_shape() -> None:
    inv = fx("invoice")
    line = inv["lines"]["data"][0]
    line["parent"] = {
        "type": "subscription_item_details",
        "subscription_item_details": {
            "subscription": "sub_9",
            "subscription_item": "si_9",
            "proration": True,
            "invoice_item": None,
        },
    }
    line["pricing"] = {
        "type": "price_details",
        "price_details": {"price": "price_9", "product": "prod_9"},
    }
    line["taxes"] = [
        {"amount": 190, "tax_behavior": "exclusive"},
        {"amount": 10, "tax_behavior": "inclusive"},
    ]
    line["discount_amounts"] = [{"amount": 100, "discount": "di_2"}]
    inv["parent"] = {
        "type": "subscription_details",
        "subscription_details": {"subscription": "sub_9"},
    }
    inv["total_taxes"] = [{"amount": 200}]
    inv["total_discount_amounts"] = [{"amount": 100, "discount": "di_2"}]
    inv["payments"] = {
        "data": [
            {"is_default": True, "payment": {"type": "payment_intent", "payment_intent": "pi_9"}}
        ]
    }
    norm = n.normalize_invoice(inv)
    row = norm.rows["invoices"][0]
    assert (row["subscription_id"], row["tax"], row["discount"]) == ("sub_9", 200, 100)
    assert row["payment_intent_id"] == "pi_9"
    assert row["lines_complete"] is True
    ln = norm.rows["invoice_lines"][0]
    assert (ln["plan_id"], ln["line_type"], ln["proration"]) == ("price_9", "subscription", True)
    assert (ln["subscription_id"], ln["subscription_item_id"]) == ("sub_9", "si_9")
    assert (ln["tax_amount"], ln["inclusive_tax_amount"], ln["discount_amount"]) == (200, 10, 100)
    assert ln["period_start"] == datetime(2024, 7, 26, 0, 34, 14)


def test_invoice_legacy_shape() -> None:
    inv = fx("invoice")
    inv.pop("parent")
    inv.pop("total_taxes", None)
    inv.update(subscription="sub_7", tax=50, payment_intent="pi_7")
    inv["total_tax_amounts"] = [{"amount": 50, "inclusive": False}]
    line = inv["lines"]["data"][0]
    for k in ("parent", "pricing", "taxes"):
        line.pop(k, None)
    line.update(
        type="subscription",
        proration=False,
        subscription="sub_7",
        subscription_item="si_7",
        price={"id": "price_7", "object": "price"},
        plan={"id": "price_7", "object": "plan"},
        tax_amounts=[{"amount": 50, "inclusive": False}],
    )
    inv["lines"]["has_more"] = True
    norm = n.normalize_invoice(inv)
    row = norm.rows["invoices"][0]
    assert (row["subscription_id"], row["tax"], row["payment_intent_id"]) == ("sub_7", 50, "pi_7")
    assert row["lines_complete"] is False
    ln = norm.rows["invoice_lines"][0]
    assert (ln["plan_id"], ln["line_type"], ln["proration"], ln["tax_amount"]) == (
        "price_7",
        "subscription",
        False,
        50,
    )


def test_legacy_invoiceitem_line_and_item() -> None:
    line = {
        "id": "ii_5",
        "object": "line_item",
        "type": "invoiceitem",
        "amount": -300,
        "currency": "eur",
        "proration": True,
        "plan": {"id": "plan_old"},
        "period": {"start": 1, "end": 2},
    }
    row = n.normalize_line(line, invoice_id="in_5", position=3)
    assert (row["invoice_item_id"], row["plan_id"], row["proration"], row["amount"]) == (
        "ii_5",
        "plan_old",
        True,
        -300,
    )
    item = fx("invoiceitem")
    cur = n.normalize_invoice_item(item)
    assert cur["subscription_id"] == "subscription"  # parent.subscription_details
    item.pop("parent")
    item.update(subscription="sub_5", price={"id": "price_5"}, proration=True)
    legacy = n.normalize_invoice_item(item)
    assert (legacy["subscription_id"], legacy["plan_id"], legacy["proration"]) == (
        "sub_5",
        "price_5",
        True,
    )


def test_credit_note_and_refund() -> None:
    cn = n.normalize_credit_note(fx("credit_note"))
    assert (cn["amount"], cn["status"], cn["invoice_id"]) == (
        1690,
        "issued",
        "in_1Pgc75B7WZ01zgkWYv4iMwt7",
    )
    rf = n.normalize_refund(fx("refund"))
    assert (rf["amount"], rf["charge_id"], rf["status"]) == (
        100,
        "ch_1PgafuB7WZ01zgkWXYmPNZs8",
        "succeeded",
    )


@pytest.mark.parametrize(
    ("fn", "obj"),
    [
        (n.normalize_invoice, {"id": "in_x", "object": "invoice", "currency": "usd"}),
        (
            n.normalize_price,
            {
                "id": "price_x",
                "object": "price",
                "recurring": {"interval": "fortnight"},
                "currency": "usd",
            },
        ),
        (n.normalize_line, {"id": "il_x", "currency": "usd"}),
    ],
)
def test_malformed_objects_raise(fn: Any, obj: dict[str, Any]) -> None:
    kwargs = {"invoice_id": "in_x", "position": 0} if fn is n.normalize_line else {}
    with pytest.raises(n.Malformed):
        fn(obj, **kwargs)
