"""Served objects compared with Stripe's own examples (fixtures3), in both shape modes.

Current mode: every served object has every key of Stripe's example object of its
resource, except the documented few below. Legacy mode: the keys API versions before
2025-03-31 had are present, and the containers that version introduced are gone.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from etl.sandbox.server.app import SandboxServer
from etl.sandbox.server.resources import COLLECTIONS
from etl.sandbox.simulation.generator import Account, generate_account

FIXTURES = Path(__file__).parent / "fixtures" / "stripe_fixtures3_excerpt.json"

# Keys of fixtures3 examples that the current API shape does not serve, and why.
CURRENT_NOT_SERVED: dict[str, set[str]] = {
    # Moved to parent.subscription_details.subscription in 2025-03-31; fixtures3
    # still lists it (as null) on the invoice example.
    "invoice": {"subscription"},
}

# What 2025-03-31 ("basil") and later added, absent from legacy renderings.
NEW_SINCE_BASIL: dict[str, set[str]] = {
    "invoice": {
        "parent",
        "total_taxes",
        "total_pretax_credit_amounts",
        "amount_overpaid",
        "payments",
    },
    "line_item": {
        "parent",
        "pricing",
        "taxes",
        "pretax_credit_amounts",
        "quantity_decimal",
        "subtotal",
    },
    "subscription_item": {"current_period_start", "current_period_end"},
    "invoiceitem": {"parent", "pricing", "net_amount", "quantity_decimal"},
    "discount": {"source"},
}
# What the old versions had that the current one does not.
LEGACY_KEYS: dict[str, set[str]] = {
    "invoice": {
        "subscription",
        "subscription_details",
        "paid",
        "paid_out_of_band",
        "tax",
        "total_tax_amounts",
        "charge",
        "payment_intent",
    },
    "line_item": {
        "type",
        "price",
        "plan",
        "proration",
        "proration_details",
        "subscription",
        "subscription_item",
        "invoice_item",
        "tax_amounts",
        "tax_rates",
        "amount_excluding_tax",
        "unit_amount_excluding_tax",
    },
    "subscription": {"current_period_start", "current_period_end", "plan", "quantity"},
    "invoiceitem": {"price", "plan", "subscription", "subscription_item", "unit_amount"},
    "discount": {"coupon"},
}


def fixture_keys() -> dict[str, set[str]]:
    resources = json.loads(FIXTURES.read_text())["resources"]
    return {name: set(obj) for name, obj in resources.items()}


@pytest.fixture(scope="module")
def account() -> Account:
    return generate_account(seed=5, customers=150, months=18)


def get(base_url: str, path: str) -> Any:
    req = urllib.request.Request(base_url + path, headers={"Authorization": "Bearer sk_test_x"})
    with urllib.request.urlopen(req) as resp:
        return json.loads(resp.read())


def served(account: Account, shapes: str) -> dict[str, list[dict[str, Any]]]:
    """Up to 300 served objects per resource, plus nested lines, items and discounts."""
    out: dict[str, list[dict[str, Any]]] = {}
    with SandboxServer(account, api_shapes=shapes) as srv:
        assert srv.base_url is not None
        for path, collection in COLLECTIONS.items():
            query = "limit=100&status=all" if path == "subscriptions" else "limit=100"
            objs: list[dict[str, Any]] = []
            page = get(srv.base_url, f"/v1/{path}?{query}")
            objs.extend(page["data"])
            while page["has_more"] and len(objs) < 300:
                page = get(srv.base_url, f"/v1/{path}?{query}&starting_after={objs[-1]['id']}")
                objs.extend(page["data"])
            out[collection.resource] = objs
        out["line_item"] = [line for inv in out["invoice"] for line in inv["lines"]["data"]]
        out["subscription_item"] = [i for s in out["subscription"] for i in s["items"]["data"]]
        with_discounts = [s["id"] for s in out["subscription"] if s["discounts"]]
        out["discount"] = [
            d
            for sid in with_discounts[:20]
            for d in get(srv.base_url, f"/v1/subscriptions/{sid}?expand[]=discounts")["discounts"]
        ]
    return out


RESOURCES = [
    "customer",
    "product",
    "price",
    "plan",
    "coupon",
    "subscription",
    "subscription_item",
    "invoice",
    "line_item",
    "invoiceitem",
    "credit_note",
    "refund",
    "event",
    "discount",
]


@pytest.fixture(scope="module")
def current(account: Account) -> dict[str, list[dict[str, Any]]]:
    return served(account, "current")


@pytest.fixture(scope="module")
def legacy(account: Account) -> dict[str, list[dict[str, Any]]]:
    return served(account, "legacy")


@pytest.mark.parametrize("resource", RESOURCES)
def test_current_shapes_have_the_fixture_keys(
    current: dict[str, list[dict[str, Any]]], resource: str
) -> None:
    objs = current[resource]
    assert objs, f"no {resource} served"
    expected = fixture_keys()[resource] - CURRENT_NOT_SERVED.get(resource, set())
    for obj in objs:
        missing = expected - set(obj)
        assert not missing, f"{resource} {obj.get('id')} lacks {sorted(missing)}"
        assert not any(k.startswith("_") for k in iter_keys(obj)), "private keys are never served"
    for key in LEGACY_KEYS.get(resource, set()) - fixture_keys()[resource]:
        assert all(key not in obj for obj in objs), f"current {resource} has legacy key {key}"


@pytest.mark.parametrize("resource", RESOURCES)
def test_legacy_shapes_have_the_old_keys(
    legacy: dict[str, list[dict[str, Any]]], resource: str
) -> None:
    objs = legacy[resource]
    assert objs, f"no {resource} served"
    new = NEW_SINCE_BASIL.get(resource, set())
    expected = (
        fixture_keys()[resource] - new - CURRENT_NOT_SERVED.get(resource, set())
    ) | LEGACY_KEYS.get(resource, set())
    for obj in objs:
        keys = set(obj)
        assert not (expected - keys), f"legacy {resource} lacks {sorted(expected - keys)}"
        assert not (keys & new), f"legacy {resource} has new keys {sorted(keys & new)}"


def test_legacy_values_follow_the_current_ones(
    current: dict[str, list[dict[str, Any]]], legacy: dict[str, list[dict[str, Any]]]
) -> None:
    now_invoices = {i["id"]: i for i in current["invoice"]}
    for inv in legacy["invoice"]:
        parent = now_invoices[inv["id"]]["parent"] or {}
        details = parent.get("subscription_details") or {}
        assert inv["subscription"] == details.get("subscription")
        assert inv["tax"] in (None, sum(t["amount"] for t in inv["total_tax_amounts"]))
    now_lines = {line["id"]: line for line in current["line_item"]}
    kinds = set()
    for line in legacy["line_item"]:
        parent = now_lines[line["id"]]["parent"]
        kinds.add(line["type"])
        key = (
            "subscription_item_details"
            if line["type"] == "subscription"
            else "invoice_item_details"
        )
        assert parent["type"] == key
        assert line["proration"] == parent[key]["proration"]
        price_id = now_lines[line["id"]]["pricing"]["price_details"]["price"]
        assert line["price"]["id"] == price_id
    assert kinds == {"subscription", "invoiceitem"}
    legacy_events = [e for e in legacy["event"] if e["data"]["object"].get("object") == "invoice"]
    assert legacy_events
    assert all("parent" not in e["data"]["object"] for e in legacy_events)
    assert all("subscription" in e["data"]["object"] for e in legacy_events)


def iter_keys(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from iter_keys(v)
    elif isinstance(value, list):
        for v in value:
            yield from iter_keys(v)
