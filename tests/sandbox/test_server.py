"""The sandbox server driven by the official stripe SDK over HTTP: Stripe's list rules."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from typing import Any

import pytest
import stripe

from etl.sandbox.server.app import SandboxServer
from tests.sandbox.fake_account import FakeAccount
from tests.sandbox.server_fixtures import client, fake_account, sdk_client, server

__all__ = ["client", "fake_account", "server"]  # fixtures used by the tests below


def newest_first(acct: FakeAccount, resource: str) -> list[dict[str, Any]]:
    """Objects as Stripe lists them: by created descending, ties newest-created first."""
    objs = list(acct.objects[resource].values())
    order = {o["id"]: i for i, o in enumerate(objs)}
    key = "date" if resource == "invoiceitem" else "created"
    return sorted(objs, key=lambda o: (o[key], order[o["id"]]), reverse=True)


def live_customer_ids(acct: FakeAccount) -> list[str]:
    return [c["id"] for c in newest_first(acct, "customer") if not c.get("_deleted")]


def raw_get(
    base_url: str, path: str, key: str | None = "sk_test_x"
) -> tuple[int, dict[str, str], Any]:
    req = urllib.request.Request(base_url + path)
    if key is not None:
        req.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(req) as resp:
            return resp.status, dict(resp.headers), json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), json.loads(err.read())


def test_auto_pagination_forward_walks_every_live_customer_newest_first(
    client: stripe.StripeClient, fake_account: FakeAccount
) -> None:
    ids = [c.id for c in client.v1.customers.list({"limit": 3}).auto_paging_iter()]
    assert ids == live_customer_ids(fake_account)
    # The account has two customers created in the same second: both are listed once.
    assert len(set(ids)) == len(ids)


def test_auto_pagination_backward_with_ending_before(
    client: stripe.StripeClient, fake_account: FakeAccount
) -> None:
    expected = live_customer_ids(fake_account)
    oldest = expected[-1]
    page = client.v1.customers.list({"limit": 4, "ending_before": oldest})
    # ending_before pages are still newest first; the SDK walks them towards the newest.
    assert [c.id for c in page.data] == expected[-5:-1]
    walked = [c.id for c in page.auto_paging_iter()]
    assert walked == list(reversed(expected[:-1]))


def test_starting_after_and_has_more(
    client: stripe.StripeClient, fake_account: FakeAccount
) -> None:
    expected = live_customer_ids(fake_account)
    first = client.v1.customers.list({"limit": 10})
    assert first.has_more is True
    assert first.url == "/v1/customers"
    second = client.v1.customers.list({"limit": 100, "starting_after": first.data[-1].id})
    assert [c.id for c in second.data] == expected[10:]
    assert second.has_more is False
    default = client.v1.customers.list()
    assert len(default.data) == 10  # Stripe's default page size


def test_created_filters(client: stripe.StripeClient, fake_account: FakeAccount) -> None:
    customers = newest_first(fake_account, "customer")
    live = [c for c in customers if not c.get("_deleted")]
    pivot = live[len(live) // 2]["created"]
    for op, keep in (
        ("gt", lambda t: t > pivot),
        ("gte", lambda t: t >= pivot),
        ("lt", lambda t: t < pivot),
        ("lte", lambda t: t <= pivot),
    ):
        got = [
            c.id
            for c in client.v1.customers.list(
                {"created": {op: pivot}, "limit": 5}
            ).auto_paging_iter()
        ]
        assert got == [c["id"] for c in live if keep(c["created"])], op
        assert got
    exact = client.v1.customers.list({"created": pivot})
    assert [c.id for c in exact.data] == [c["id"] for c in live if c["created"] == pivot]
    both = client.v1.customers.list({"created": {"gte": pivot, "lt": pivot + 1}})
    assert [c.id for c in both.data] == [c.id for c in exact.data]


def test_invoice_lines_expand_and_sub_resource(
    client: stripe.StripeClient, fake_account: FakeAccount
) -> None:
    invoices = list(
        client.v1.invoices.list({"limit": 100, "expand": ["data.lines"]}).auto_paging_iter()
    )
    assert invoices and all(isinstance(i, stripe.Invoice) for i in invoices)
    big = next(
        i for i in invoices if len(fake_account.objects["invoice"][i.id]["lines"]["data"]) > 10
    )
    assert len(big.lines.data) == 10
    assert big.lines.has_more is True
    assert big.lines.url == f"/v1/invoices/{big.id}/lines"
    assert isinstance(big.lines.data[0], stripe.InvoiceLineItem)
    stored = [line["id"] for line in fake_account.objects["invoice"][big.id]["lines"]["data"]]
    walked = [
        line.id
        for line in client.v1.invoices.line_items.list(big.id, {"limit": 4}).auto_paging_iter()
    ]
    assert walked == stored
    retrieved = client.v1.invoices.retrieve(big.id)
    assert [line.id for line in retrieved.lines.data] == stored[:10]


def test_expand_items_price_customer_and_default_price(
    client: stripe.StripeClient, fake_account: FakeAccount
) -> None:
    subs = client.v1.subscriptions.list(
        {"limit": 5, "expand": ["data.items.data.price", "data.customer"]}
    )
    for sub in subs.data:
        assert isinstance(sub, stripe.Subscription)
        item = sub["items"].data[0]
        assert isinstance(item, stripe.SubscriptionItem)
        assert isinstance(item.price, stripe.Price)
        assert isinstance(sub.customer, stripe.Customer)
        assert sub.customer.id == fake_account.objects["subscription"][sub.id]["customer"]
    products = client.v1.products.list({"expand": ["data.default_price"]})
    assert all(isinstance(p.default_price, stripe.Price) for p in products.data)
    one = client.v1.invoices.retrieve(
        next(iter(fake_account.objects["invoice"])), {"expand": ["customer"]}
    )
    assert isinstance(one.customer, stripe.Customer)
    not_expanded = client.v1.invoices.retrieve(next(iter(fake_account.objects["invoice"])))
    assert isinstance(not_expanded.customer, str)
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.customers.list({"expand": ["data.email"]})
    assert err.value.http_status == 400


def test_deleted_customer(client: stripe.StripeClient, fake_account: FakeAccount) -> None:
    deleted = next(c["id"] for c in fake_account.objects["customer"].values() if c.get("_deleted"))
    got = client.v1.customers.retrieve(deleted)
    assert got.deleted is True
    assert got.to_dict() == {"id": deleted, "object": "customer", "deleted": True}
    listed = {c.id for c in client.v1.customers.list({"limit": 100}).auto_paging_iter()}
    assert deleted not in listed
    events = client.v1.events.list({"type": "customer.deleted"})
    assert [e.data.object.id for e in events.data] == [deleted]


def test_subscription_status_filter_hides_canceled_by_default(
    client: stripe.StripeClient, fake_account: FakeAccount
) -> None:
    stored = fake_account.objects["subscription"].values()
    canceled = {s["id"] for s in stored if s["status"] == "canceled"}
    assert canceled
    default = {s.id for s in client.v1.subscriptions.list({"limit": 100}).auto_paging_iter()}
    everything = {
        s.id
        for s in client.v1.subscriptions.list({"status": "all", "limit": 100}).auto_paging_iter()
    }
    only_canceled = {
        s.id for s in client.v1.subscriptions.list({"status": "canceled"}).auto_paging_iter()
    }
    assert everything == {s["id"] for s in stored}
    assert default == everything - canceled
    assert only_canceled == canceled


def test_customer_subscription_and_type_filters(
    client: stripe.StripeClient, fake_account: FakeAccount
) -> None:
    inv = next(iter(fake_account.objects["invoice"].values()))
    by_customer = client.v1.invoices.list({"customer": inv["customer"], "limit": 100})
    assert {i.id for i in by_customer.data} == {
        i["id"]
        for i in fake_account.objects["invoice"].values()
        if i["customer"] == inv["customer"]
    }
    sub_id = inv["parent"]["subscription_details"]["subscription"]
    by_sub = client.v1.invoices.list({"subscription": sub_id, "limit": 100})
    assert inv["id"] in {i.id for i in by_sub.data}
    subs = client.v1.subscriptions.list({"customer": inv["customer"], "status": "all"})
    assert {s.customer for s in subs.data} == {inv["customer"]}
    paid = list(client.v1.events.list({"type": "invoice.paid", "limit": 100}).auto_paging_iter())
    assert paid and {e.type for e in paid} == {"invoice.paid"}
    several = list(
        client.v1.events.list(
            {"types": ["invoice.paid", "customer.deleted"], "limit": 100}
        ).auto_paging_iter()
    )
    assert len(several) == len(paid) + 1
    wildcard = list(client.v1.events.list({"type": "customer.*", "limit": 100}).auto_paging_iter())
    assert {e.type for e in wildcard} == {
        "customer.created",
        "customer.deleted",
        "customer.subscription.created",
    }


def test_objects_parse_into_the_sdks_classes(
    client: stripe.StripeClient, fake_account: FakeAccount
) -> None:
    cases: list[tuple[Any, type]] = [
        (client.v1.customers, stripe.Customer),
        (client.v1.products, stripe.Product),
        (client.v1.prices, stripe.Price),
        (client.v1.plans, stripe.Plan),
        (client.v1.coupons, stripe.Coupon),
        (client.v1.invoice_items, stripe.InvoiceItem),
        (client.v1.credit_notes, stripe.CreditNote),
        (client.v1.refunds, stripe.Refund),
        (client.v1.events, stripe.Event),
    ]
    for service, cls in cases:
        page = service.list({"limit": 2})
        assert page.data, cls
        assert all(isinstance(o, cls) for o in page.data)
        again = service.retrieve(page.data[0].id)
        assert isinstance(again, cls)
        assert again.to_dict() == page.data[0].to_dict()
    evt = client.v1.events.list({"type": "invoice.paid", "limit": 1}).data[0]
    assert isinstance(evt.data.object, stripe.Invoice)


def test_bad_keys_get_401(server: SandboxServer) -> None:
    assert server.base_url is not None
    for key in ("sk_live_nope", "pk_test_abc", "whatever"):
        with pytest.raises(stripe.AuthenticationError) as err:
            sdk_client(server.base_url, key=key).v1.customers.list()
        assert err.value.http_status == 401
    status, headers, body = raw_get(server.base_url, "/v1/customers", key=None)
    assert status == 401
    assert body["error"]["type"] == "invalid_request_error"
    assert headers["Request-Id"].startswith("req_")
    # A restricted test key is fine, and so is HTTP Basic with the key as user name.
    assert sdk_client(server.base_url, key="rk_test_readonly").v1.customers.list().data
    req = urllib.request.Request(server.base_url + "/v1/customers?limit=1")
    req.add_header("Authorization", "Basic " + base64.b64encode(b"sk_test_abc:").decode())
    with urllib.request.urlopen(req) as resp:
        assert resp.status == 200


@pytest.mark.parametrize("limit", [0, 101, -1])
def test_limit_outside_1_to_100_is_400(client: stripe.StripeClient, limit: int) -> None:
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.customers.list({"limit": limit})
    assert err.value.http_status == 400
    assert err.value.param == "limit"
    assert err.value.code == "parameter_invalid_integer"


def test_error_envelopes(server: SandboxServer, client: stripe.StripeClient) -> None:
    assert server.base_url is not None
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.customers.retrieve("cus_missing")
    assert err.value.http_status == 404
    assert err.value.code == "resource_missing"
    status, headers, body = raw_get(server.base_url, "/v1/invoices/in_missing")
    assert status == 404
    assert body == {
        "error": {
            "type": "invalid_request_error",
            "message": "No such invoice: 'in_missing'",
            "param": "id",
            "code": "resource_missing",
            "doc_url": "https://stripe.com/docs/error-codes/resource-missing",
        }
    }
    assert headers["Request-Id"].startswith("req_")
    status, _, body = raw_get(server.base_url, "/v1/customers?limit=abc")
    assert (status, body["error"]["code"]) == (400, "parameter_invalid_integer")
    status, _, body = raw_get(server.base_url, "/v1/customers?colour=blue")
    assert (status, body["error"]["code"], body["error"]["param"]) == (
        400,
        "parameter_unknown",
        "colour",
    )
    status, _, body = raw_get(server.base_url, "/v1/customers?starting_after=cus_nope")
    assert (status, body["error"]["code"]) == (400, "resource_missing")
    status, _, body = raw_get(server.base_url, "/v1/nothing_here")
    assert status == 404 and "Unrecognized request URL" in body["error"]["message"]


def test_stats_count_requests_by_path_and_status(server: SandboxServer) -> None:
    assert server.base_url is not None
    before = server.stats()
    raw_get(server.base_url, "/v1/customers?limit=1")
    raw_get(server.base_url, "/v1/customers/cus_missing")
    status, _, over_http = raw_get(server.base_url, "/_sandbox/stats", key=None)
    assert status == 200
    assert over_http["total"] == before["total"] + 2
    listed = over_http["by_path"]["GET /v1/customers"]["200"]
    assert listed == before["by_path"].get("GET /v1/customers", {}).get("200", 0) + 1
    assert over_http["by_path"]["GET /v1/customers/{id}"]["404"] >= 1
    assert over_http == server.stats()
