"""A small hand-made account with the generator's interface, for server tests.

Objects are built from Stripe's own example objects (the fixtures excerpt), so their
shapes are the current API's; the values are chosen to exercise the list rules:
same-second ties, a deleted customer, canceled subscriptions, an invoice with more
than 10 lines, events, and a clock that produces new invoices and events.
"""

from __future__ import annotations

import copy
import json
import threading
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures" / "stripe_fixtures3_excerpt.json"
DAY = 86_400
START = 1_700_000_000  # 2023-11-14


def fixture(resource: str) -> dict[str, Any]:
    data = json.loads(FIXTURES.read_text())["resources"][resource]
    return copy.deepcopy(data)


class FakeAccount:
    def __init__(self, customers: int = 30) -> None:
        self.lock = threading.RLock()
        self.now = START + 400 * DAY
        self.objects: dict[str, dict[str, dict[str, Any]]] = {
            name: {}
            for name in (
                "customer",
                "product",
                "price",
                "plan",
                "coupon",
                "subscription",
                "invoice",
                "invoiceitem",
                "credit_note",
                "refund",
                "event",
            )
        }
        self._seq = 0
        self._build(customers)

    # -- helpers

    def _id(self, prefix: str) -> str:
        self._seq += 1
        return f"{prefix}_{self._seq:014d}"

    def _add(self, resource: str, obj: dict[str, Any]) -> dict[str, Any]:
        self.objects[resource][obj["id"]] = obj
        return obj

    def _event(self, type_: str, obj: dict[str, Any], created: int) -> dict[str, Any]:
        evt = fixture("event")
        evt.update(
            id=self._id("evt"),
            created=created,
            type=type_,
            api_version="2026-10-28.endive",
            data={"object": copy.deepcopy(obj)},
        )
        return self._add("event", evt)

    # -- the account

    def _build(self, n_customers: int) -> None:
        t0 = START
        self.products = []
        for i, name in enumerate(("Basic", "Pro")):
            prod = fixture("product")
            prod.update(id=f"prod_{name.upper()}", name=name, created=t0 + i, updated=t0 + i)
            self.products.append(self._add("product", prod))
        self.prices = []
        for i, (prod, amount, interval, currency) in enumerate(
            [
                (self.products[0], 1000, "month", "usd"),
                (self.products[1], 5000, "month", "usd"),
                (self.products[1], 50000, "year", "eur"),
            ]
        ):
            price = fixture("price")
            price.update(
                id=f"price_{i:04d}",
                product=prod["id"],
                unit_amount=amount,
                unit_amount_decimal=str(amount),
                currency=currency,
                created=t0 + 10 + i,
            )
            price["recurring"]["interval"] = interval
            price["transform_quantity"] = None
            self.prices.append(self._add("price", price))
        self.products[0]["default_price"] = self.prices[0]["id"]
        self.products[1]["default_price"] = self.prices[1]["id"]
        plan = fixture("plan")
        plan.update(id="plan_legacy_gold", product=self.products[1]["id"], created=t0 + 20)
        self._add("plan", plan)
        coupon = fixture("coupon")
        coupon.update(id="SAVE25", created=t0 + 30, percent_off=25.0, duration="repeating")
        self._add("coupon", coupon)

        for i in range(n_customers):
            # Customers 10 and 11 share a creation second, like a batch import.
            created = t0 + DAY * (i + 1) - (DAY if i == 11 else 0)
            if i == 11:
                created = self.objects["customer"][f"cus_{10:04d}"]["created"]
            cus = fixture("customer")
            cus.update(
                id=f"cus_{i:04d}",
                created=created,
                email=f"c{i}@example.com",
                name=f"Customer {i}",
                discount=None,
            )
            self._add("customer", cus)
            self._event("customer.created", cus, created)
            if i < 20:
                self._subscribe(cus, created, canceled=(i % 4 == 3), big=(i == 2))
        if n_customers > 5:
            deleted = self.objects["customer"]["cus_0005"]
            deleted["_deleted"] = True
            self._event("customer.deleted", deleted, deleted["created"] + 30 * DAY)

        ii = fixture("invoiceitem")
        ii.update(
            id=self._id("ii"),
            customer="cus_0001",
            date=t0 + 5 * DAY,
            invoice=None,
            net_amount=1000,
            quantity_decimal="1",
        )
        ii["parent"] = None
        ii["pricing"] = {
            "type": "price_details",
            "price_details": {"price": self.prices[0]["id"], "product": self.products[0]["id"]},
            "unit_amount_decimal": "1000",
        }
        self._add("invoiceitem", ii)

        first_invoice = next(iter(self.objects["invoice"].values()))
        cn = fixture("credit_note")
        cn.update(
            id=self._id("cn"),
            invoice=first_invoice["id"],
            customer=first_invoice["customer"],
            created=first_invoice["created"] + DAY,
        )
        self._add("credit_note", cn)
        ref = fixture("refund")
        ref.update(id=self._id("re"), created=first_invoice["created"] + 2 * DAY)
        self._add("refund", ref)

    def _subscribe(self, cus: dict[str, Any], created: int, *, canceled: bool, big: bool) -> None:
        price = self.prices[int(cus["id"][-1]) % 2]
        sub = fixture("subscription")
        sub_id = self._id("sub")
        item = fixture("subscription_item")
        item.update(
            id=self._id("si"),
            created=created,
            price=copy.deepcopy(price),
            subscription=sub_id,
            current_period_start=created,
            current_period_end=created + 30 * DAY,
        )
        item["plan"] = None
        sub.update(
            id=sub_id,
            customer=cus["id"],
            created=created,
            start_date=created,
            status="canceled" if canceled else "active",
            canceled_at=created + 60 * DAY if canceled else None,
            ended_at=created + 60 * DAY if canceled else None,
            cancel_at=None,
            trial_end=None,
            trial_start=None,
            discounts=[],
            latest_invoice=None,
            pending_update=None,
        )
        sub["items"] = {
            "object": "list",
            "data": [item],
            "has_more": False,
            "url": f"/v1/subscription_items?subscription={sub_id}",
        }
        self._add("subscription", sub)
        self._event("customer.subscription.created", sub, created)
        inv = self._invoice(sub, created, n_lines=13 if big else 1)
        sub["latest_invoice"] = inv["id"]

    def _invoice(self, sub: dict[str, Any], created: int, n_lines: int = 1) -> dict[str, Any]:
        inv = fixture("invoice")
        inv_id = self._id("in")
        item = sub["items"]["data"][0]
        price = item["price"]
        lines = []
        for _ in range(n_lines):
            line = fixture("line_item")
            line.update(
                id=self._id("il"),
                invoice=inv_id,
                amount=price["unit_amount"],
                subtotal=price["unit_amount"],
                currency=price["currency"],
                period={"start": created, "end": created + 30 * DAY},
                subscription=sub["id"],
                quantity_decimal="1",
            )
            line["parent"] = {
                "type": "subscription_item_details",
                "invoice_item_details": None,
                "subscription_item_details": {
                    "invoice_item": None,
                    "proration": False,
                    "proration_details": {"credited_items": None},
                    "subscription": sub["id"],
                    "subscription_item": item["id"],
                },
            }
            line["pricing"] = {
                "type": "price_details",
                "price_details": {"price": price["id"], "product": price["product"]},
                "unit_amount_decimal": price["unit_amount_decimal"],
            }
            lines.append(line)
        total = sum(line["amount"] for line in lines)
        inv.update(
            id=inv_id,
            customer=sub["customer"],
            created=created,
            status="paid",
            currency=price["currency"],
            subtotal=total,
            total=total,
            amount_due=total,
            amount_paid=total,
            amount_remaining=0,
            billing_reason="subscription_create",
            subscription=None,
            period_start=created,
            period_end=created,
            total_taxes=[],
        )
        inv["parent"] = {
            "type": "subscription_details",
            "quote_details": None,
            "subscription_details": {"metadata": {}, "subscription": sub["id"]},
        }
        del inv["subscription"]  # the current API has it under parent only
        inv["lines"] = {
            "object": "list",
            "data": lines,
            "has_more": False,
            "url": f"/v1/invoices/{inv_id}/lines",
        }
        self._add("invoice", inv)
        self._event("invoice.paid", inv, created)
        return inv

    def advance(self, days: int) -> list[dict[str, Any]]:
        with self.lock:
            before = set(self.objects["event"])
            self.now += days * DAY
            for sub in list(self.objects["subscription"].values()):
                if sub["status"] == "active":
                    self._invoice(sub, self.now)
            return [e for k, e in self.objects["event"].items() if k not in before]
