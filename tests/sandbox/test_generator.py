"""The generated account: Stripe's shapes, invariants of its invoices, determinism, advance()."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import stripe

from etl.sandbox.simulation.generator import API_VERSION, Account, generate_account
from etl.sandbox.simulation.util import DAY, add_interval, prorate

# The resources of shared/stripe/fixtures3.json that the sandbox serves, kept with the
# tests (MIT, see fixtures/LICENSE-fixtures3) so they run wherever the repo is cloned.
FIXTURES = Path(__file__).parent / "fixtures" / "stripe_fixtures3_excerpt.json"

# Keys of Stripe's own examples that the generated objects deliberately leave out.
KEY_EXCEPTIONS = {
    # removed from the current API (2025-03-31.basil): now parent.subscription_details
    ("invoice", "subscription"),
}

Obj = dict[str, Any]


def account_hash(acct: Account) -> str:
    h = hashlib.sha256()
    for resource, objs in acct.objects.items():
        h.update(resource.encode())
        h.update(json.dumps(list(objs.values()), sort_keys=True).encode())
    return h.hexdigest()


@pytest.fixture(scope="module")
def acct() -> Account:
    return generate_account(seed=7, customers=400, months=24)


def all_lines(acct: Account) -> list[Obj]:
    return [ln for inv in acct.objects["invoice"].values() for ln in inv["lines"]["data"]]


def served_groups(acct: Account) -> dict[str, list[Obj]]:
    o = acct.objects
    return {
        "customer": list(o["customer"].values()),
        "product": list(o["product"].values()),
        "price": list(o["price"].values()),
        "plan": list(o["plan"].values()),
        "coupon": list(o["coupon"].values()),
        "discount": list(o["discount"].values()),
        "subscription": list(o["subscription"].values()),
        "subscription_item": [i for s in o["subscription"].values() for i in s["items"]["data"]],
        "invoice": list(o["invoice"].values()),
        "line_item": all_lines(acct),
        "invoiceitem": list(o["invoiceitem"].values()),
        "credit_note": list(o["credit_note"].values()),
        "refund": list(o["refund"].values()),
        "event": list(o["event"].values()),
    }


# ---------------------------------------------------------------- shapes


def test_key_sets_cover_stripes_fixtures(acct: Account) -> None:
    fixtures = json.loads(FIXTURES.read_text())["resources"]
    for resource, objs in served_groups(acct).items():
        assert objs, f"no {resource} generated"
        expected = set(fixtures[resource])
        for obj in objs:
            missing = {k for k in expected - set(obj) if (resource, k) not in KEY_EXCEPTIONS}
            assert not missing, f"{resource} {obj['id']} lacks {sorted(missing)}"
            assert obj["object"] == resource


def test_objects_parse_with_the_sdks_classes(acct: Account) -> None:
    classes = {
        "customer": stripe.Customer,
        "product": stripe.Product,
        "price": stripe.Price,
        "plan": stripe.Plan,
        "coupon": stripe.Coupon,
        "discount": stripe.Discount,
        "subscription": stripe.Subscription,
        "invoice": stripe.Invoice,
        "invoiceitem": stripe.InvoiceItem,
        "credit_note": stripe.CreditNote,
        "refund": stripe.Refund,
        "event": stripe.Event,
    }
    for resource, cls in classes.items():
        for obj in list(acct.objects[resource].values())[:200]:
            public = {k: v for k, v in obj.items() if not k.startswith("_")}
            parsed = stripe.convert_to_stripe_object(json.loads(json.dumps(public)))
            assert isinstance(parsed, cls), (resource, type(parsed))
            assert parsed.id == obj["id"]
    inv = next(i for i in acct.objects["invoice"].values() if len(i["lines"]["data"]) > 1)
    parsed_inv = stripe.convert_to_stripe_object(json.loads(json.dumps(inv)))
    assert isinstance(parsed_inv.lines.data[0], stripe.InvoiceLineItem)
    sub = next(iter(acct.objects["subscription"].values()))
    parsed_sub = stripe.convert_to_stripe_object(json.loads(json.dumps(sub)))
    assert isinstance(parsed_sub["items"].data[0], stripe.SubscriptionItem)
    assert isinstance(parsed_sub["items"].data[0].price, stripe.Price)


def test_everything_is_test_mode_and_json(acct: Account) -> None:
    for resource, objs in served_groups(acct).items():
        for obj in objs:
            if "livemode" in obj:
                assert obj["livemode"] is False, resource
    json.dumps(acct.objects)  # plain JSON-able dicts


def test_ids_look_like_stripes_and_are_unique(acct: Account) -> None:
    prefixes = {
        "customer": "cus_",
        "product": "prod_",
        "subscription": "sub_",
        "invoice": "in_",
        "invoiceitem": "ii_",
        "credit_note": "cn_",
        "refund": "re_",
        "event": "evt_",
        "discount": "di_",
    }
    seen: set[str] = set()
    for resource, prefix in prefixes.items():
        for oid in acct.objects[resource]:
            assert re.fullmatch(re.escape(prefix) + r"[0-9A-Za-z]{14,40}", oid), oid
            assert oid not in seen
            seen.add(oid)
    for pid in acct.objects["price"]:
        assert pid.startswith(("price_", "plan_"))
    assert all(pid.startswith("plan_") for pid in acct.objects["plan"])
    line_ids = [ln["id"] for ln in all_lines(acct)]
    assert len(line_ids) == len(set(line_ids))
    assert all(lid.startswith("il_") for lid in line_ids)
    items = [i["id"] for s in acct.objects["subscription"].values() for i in s["items"]["data"]]
    assert len(items) == len(set(items)) and all(i.startswith("si_") for i in items)
    for ref in acct.objects["refund"].values():
        assert ref["charge"].startswith("ch_") and ref["payment_intent"].startswith("pi_")


def test_creation_order_is_ascending_created_then_id(acct: Account) -> None:
    for resource, objs in acct.objects.items():
        keys = [(o.get("created", o.get("date", o.get("start"))), oid) for oid, o in objs.items()]
        assert keys == sorted(keys), resource
        assert all(k[0] <= acct.now for k in keys), resource


def test_current_api_shapes(acct: Account) -> None:
    subs = acct.objects["subscription"].values()
    for sub in subs:
        assert "current_period_start" not in sub
        for item in sub["items"]["data"]:
            assert item["price"]["object"] == "price"
            assert item["current_period_start"] < item["current_period_end"]
    for inv in acct.objects["invoice"].values():
        assert "subscription" not in inv
        if inv["parent"] is not None:
            assert inv["parent"]["subscription_details"]["subscription"].startswith("sub_")
        assert set(inv["lines"]) == {"object", "data", "has_more", "url"}
        if inv["billing_reason"] == "subscription_cycle":
            # Stripe: the invoice's period is the one that just ended; lines carry the new one
            assert inv["period_end"] == inv["created"] > inv["period_start"]
            cycle = [ln for ln in inv["lines"]["data"] if ln["period"]["start"] == inv["created"]]
            assert cycle, inv["id"]
        elif inv["billing_reason"] == "subscription_create":
            assert inv["period_start"] == inv["period_end"] == inv["created"]
        for ln in inv["lines"]["data"]:
            assert "price" not in ln and "proration" not in ln and "type" not in ln
            assert ln["pricing"]["price_details"]["price"] in acct.objects["price"]
            assert ln["invoice"] == inv["id"]


# ---------------------------------------------------------------- realism


def test_catalog_has_every_kind_of_price(acct: Account) -> None:
    prices = list(acct.objects["price"].values())
    recurring = {
        (p["recurring"]["interval"], p["recurring"]["interval_count"])
        for p in prices
        if p["recurring"]
    }
    assert {("month", 1), ("month", 3), ("year", 1), ("week", 1)} <= recurring
    assert {p["currency"] for p in prices} == {"usd", "eur", "gbp"}
    assert any(p["recurring"] and p["recurring"]["usage_type"] == "metered" for p in prices)
    assert any(p["unit_amount"] == 0 for p in prices)
    assert any(p["type"] == "one_time" for p in prices)
    assert len(acct.objects["plan"]) >= 3
    for plan in acct.objects["plan"].values():
        assert acct.objects["price"][plan["id"]]["unit_amount"] == plan["amount"]


def test_customers_look_real(acct: Account) -> None:
    customers = list(acct.objects["customer"].values())
    emails = [c["email"] for c in customers]
    assert len(set(emails)) == len(emails)
    assert all(e == e.lower() and "@" in e for e in emails)
    countries = Counter(c["address"]["country"] for c in customers)
    assert len(countries) >= 5
    assert all(c["address"]["state"] for c in customers if c["address"]["country"] == "US")
    assert any("extra_id" in c["metadata"] for c in customers)
    deleted = [c for c in customers if c.get("_deleted")]
    assert deleted
    for c in deleted:
        subs = [s for s in acct.objects["subscription"].values() if s["customer"] == c["id"]]
        assert subs and all(s["status"] == "canceled" for s in subs)


def test_subscription_lives(acct: Account) -> None:
    subs = list(acct.objects["subscription"].values())
    statuses = Counter(s["status"] for s in subs)
    assert {"active", "canceled", "trialing", "past_due"} <= set(statuses), statuses
    assert any(s["trial_start"] for s in subs)
    assert any(s["cancel_at_period_end"] and s["status"] == "canceled" for s in subs)
    assert any(not s["cancel_at_period_end"] and s["status"] == "canceled" for s in subs)
    assert any(s["cancellation_details"]["reason"] == "payment_failed" for s in subs), (
        "no subscription ended after failed payments"
    )
    assert any(len(s["items"]["data"]) == 2 for s in subs)
    assert any(s["discounts"] for s in subs)
    # churned customers who came back: a later subscription after an ended one
    by_cust: dict[str, list[Obj]] = {}
    for s in subs:
        by_cust.setdefault(s["customer"], []).append(s)
    assert any(
        any(a["ended_at"] and b["start_date"] > a["ended_at"] for a in group for b in group)
        for group in by_cust.values()
    )
    # quantity (seats) and price changes leave several prices/quantities over time
    assert any(i["quantity"] and i["quantity"] > 1 for s in subs for i in s["items"]["data"])


def test_invoices_cover_the_cases(acct: Account) -> None:
    invoices = list(acct.objects["invoice"].values())
    statuses = Counter(i["status"] for i in invoices)
    assert {"paid", "open", "void", "uncollectible"} <= set(statuses), statuses
    assert any(len(i["lines"]["data"]) > 10 for i in invoices)
    assert any(i["total"] == 0 and i["billing_reason"] == "subscription_create" for i in invoices)
    lines = all_lines(acct)
    assert any(ln["discount_amounts"] for ln in lines)
    assert any(ln["taxes"] for ln in lines)
    prorations = [
        ln for ln in lines if (ln["parent"]["subscription_item_details"] or {}).get("proration")
    ]
    assert any(ln["amount"] < 0 for ln in prorations) and any(ln["amount"] > 0 for ln in prorations)
    assert any(i["billing_reason"] == "subscription_update" for i in invoices)
    one_off = [ln for ln in lines if ln["parent"]["type"] == "invoice_item_details"]
    assert one_off
    metered = [
        ln
        for ln in lines
        if acct.objects["price"][ln["pricing"]["price_details"]["price"]].get("recurring")
        and acct.objects["price"][ln["pricing"]["price_details"]["price"]]["recurring"][
            "usage_type"
        ]
        == "metered"
    ]
    assert metered
    assert acct.objects["refund"] and acct.objects["credit_note"]
    coupons = {d["source"]["coupon"] for d in acct.objects["discount"].values()}
    durations = {acct.objects["coupon"][c]["duration"] for c in coupons}
    assert durations == {"once", "repeating", "forever"}
    assert any(acct.objects["coupon"][c]["amount_off"] for c in coupons)
    assert any(acct.objects["coupon"][c]["percent_off"] for c in coupons)


# ---------------------------------------------------------------- invariants


def check_invoice_invariants(acct: Account) -> None:
    for inv in acct.objects["invoice"].values():
        lines = inv["lines"]["data"]
        subtotal = sum(ln["amount"] for ln in lines)
        discounts = sum(d["amount"] for ln in lines for d in ln["discount_amounts"])
        tax = sum(t["amount"] for ln in lines for t in ln["taxes"])
        assert inv["subtotal"] == subtotal, inv["id"]
        assert sum(d["amount"] for d in inv["total_discount_amounts"]) == discounts
        assert sum(t["amount"] for t in inv["total_taxes"]) == tax
        assert inv["total_excluding_tax"] == subtotal - discounts
        assert inv["total"] == subtotal - discounts + tax, inv["id"]
        for ln in lines:
            assert ln["subtotal"] == ln["amount"]
            for t in ln["taxes"]:
                assert t["tax_behavior"] == "exclusive"
                net = ln["amount"] - sum(d["amount"] for d in ln["discount_amounts"])
                assert t["taxable_amount"] == net
            for d in ln["discount_amounts"]:
                assert 0 < d["amount"] <= ln["amount"]
                assert d["discount"] in acct.objects["discount"]
        assert inv["amount_due"] == max(0, inv["total"] + inv["starting_balance"])
        st = inv["status"]
        paid_at = inv["status_transitions"]["paid_at"]
        if st == "paid":
            assert inv["amount_paid"] == inv["amount_due"] and inv["amount_remaining"] == 0
            assert paid_at is not None and inv["created"] <= paid_at <= acct.now
            if inv["amount_paid"] > 0:
                pay = inv["payments"]["data"][0]
                assert pay["payment"]["payment_intent"].startswith("pi_")
                assert pay["amount_paid"] == inv["amount_paid"]
        else:
            assert inv["amount_paid"] == 0 and paid_at is None
            if st == "void":
                assert inv["amount_remaining"] == 0
            else:
                assert inv["amount_remaining"] == inv["amount_due"]
        if st == "open":
            assert inv["status_transitions"]["finalized_at"] is not None
        if st == "draft":
            assert inv["number"] is None and acct.now - inv["created"] < 3600


def test_invoice_totals_and_amounts(acct: Account) -> None:
    check_invoice_invariants(acct)


def test_prorations_follow_stripes_formula(acct: Account) -> None:
    prices = acct.objects["price"]
    n = 0
    for ln in all_lines(acct):
        details = ln["parent"]["subscription_item_details"]
        if not details or not details["proration"]:
            continue
        price = prices[ln["pricing"]["price_details"]["price"]]
        rec = price["recurring"]
        start, end = ln["period"]["start"], ln["period"]["end"]
        full_start = add_interval(end, rec["interval"], -rec["interval_count"])
        expected = prorate(price["unit_amount"] * ln["quantity"], end - start, end - full_start)
        if ln["description"].startswith("Unused time"):
            assert ln["amount"] == -expected, ln["id"]
        else:
            assert ln["description"].startswith("Remaining time")
            assert ln["amount"] == expected, ln["id"]
        item = acct.objects["invoiceitem"][details["invoice_item"]]
        assert item["amount"] == ln["amount"] and item["invoice"] == ln["invoice"]
        assert item["proration"] is True
        n += 1
    assert n > 10


def test_refunds_map_to_invoices_through_payment_intents(acct: Account) -> None:
    by_pi = {
        p["payment"]["payment_intent"]: inv
        for inv in acct.objects["invoice"].values()
        for p in inv["payments"]["data"]
    }
    for ref in acct.objects["refund"].values():
        inv = by_pi[ref["payment_intent"]]
        assert 0 < ref["amount"] <= inv["amount_paid"]
        assert acct.charges[ref["charge"]] == inv["id"]
    for cn in acct.objects["credit_note"].values():
        inv = acct.objects["invoice"][cn["invoice"]]
        assert inv["status"] == "paid" and cn["amount"] <= inv["amount_paid"]
        assert inv["post_payment_credit_notes_amount"] >= cn["amount"]


def test_events_of_the_last_30_days(acct: Account) -> None:
    events = list(acct.objects["event"].values())
    types = Counter(e["type"] for e in events)
    for prefix in ("customer.", "customer.subscription.", "invoice.", "price.", "product."):
        assert any(t.startswith(prefix) for t in types), prefix
    for needed in (
        "customer.created",
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "invoice.created",
        "invoice.finalized",
        "invoice.paid",
        "invoice.payment_failed",
    ):
        assert types[needed] > 0, needed
    for e in events:
        assert acct.now - 30 * DAY < e["created"] <= acct.now
        assert e["api_version"] == API_VERSION
        obj = e["data"]["object"]
        kind = e["type"].rsplit(".", 1)[0]
        expected_object = {
            "customer.subscription": "subscription",
            "customer.discount": "discount",
        }.get(kind, kind)
        assert obj["object"] == expected_object, e["type"]
        if e["type"].endswith(".updated"):
            assert e["data"]["previous_attributes"], e["id"]
            for k in e["data"]["previous_attributes"]:
                assert k in obj


def test_event_objects_are_snapshots(acct: Account) -> None:
    """An invoice's invoice.created event still shows the draft after it was paid."""
    drafts = 0
    for e in acct.objects["event"].values():
        if e["type"] == "invoice.created":
            inv_now = acct.objects["invoice"][e["data"]["object"]["id"]]
            if inv_now["status"] == "paid":
                assert e["data"]["object"]["status"] == "draft"
                drafts += 1
    assert drafts > 0


# ---------------------------------------------------------------- determinism, advance


def test_same_seed_same_account_other_seed_other() -> None:
    a = generate_account(seed=3, customers=60, months=12)
    b = generate_account(seed=3, customers=60, months=12)
    c = generate_account(seed=4, customers=60, months=12)
    assert account_hash(a) == account_hash(b)
    assert account_hash(a) != account_hash(c)
    d = generate_account(seed=3, customers=60, months=12, end=datetime(2026, 6, 1, tzinfo=UTC))
    assert account_hash(a) != account_hash(d)
    assert d.now == int(datetime(2026, 6, 1, tzinfo=UTC).timestamp())
    assert a.now == int(datetime(2026, 11, 1, tzinfo=UTC).timestamp())


def test_advance_moves_the_clock_deterministically() -> None:
    a = generate_account(seed=5, customers=150, months=12)
    b = generate_account(seed=5, customers=150, months=12)
    before_now = a.now
    before_invoices = set(a.objects["invoice"])
    events = a.advance(10)
    assert a.now == before_now + 10 * DAY
    assert events and all(before_now < e["created"] <= a.now for e in events)
    assert [e["created"] for e in events] == sorted(e["created"] for e in events)
    assert {e["id"] for e in events} <= set(a.objects["event"])
    new_invoices = set(a.objects["invoice"]) - before_invoices
    assert new_invoices
    types = Counter(e["type"] for e in events)
    assert types["invoice.created"] >= len(new_invoices) > 0
    assert types["customer.subscription.updated"] > 0
    assert types["customer.created"] > 0  # signups continue after the end
    # same sequence of advances, same account and events
    events_b = b.advance(4) + b.advance(6)
    assert account_hash(a) == account_hash(b)
    assert [e["id"] for e in events] == [e["id"] for e in events_b]
    check_invoice_invariants(a)
    test_creation_order_is_ascending_created_then_id(a)
    # Stripe keeps 30 days of events
    a.advance(40)
    assert all(e["created"] > a.now - 30 * DAY for e in a.objects["event"].values())
    check_invoice_invariants(a)


def test_advance_zero_and_negative() -> None:
    a = generate_account(seed=5, customers=20, months=3)
    now = a.now
    assert a.advance(0) == [] and a.now == now
    with pytest.raises(ValueError, match="days must be >= 0"):
        a.advance(-1)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="customers must be >= 0"):
        generate_account(seed=1, customers=-1, months=12)
    with pytest.raises(ValueError, match="months >= 1"):
        generate_account(seed=1, customers=10, months=0)
