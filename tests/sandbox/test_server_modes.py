"""The sandbox server's modes: legacy shapes, rate limit, faults, and the moving clock."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import pytest
import stripe

from etl.sandbox.server.app import SandboxServer
from tests.sandbox.fake_account import FakeAccount
from tests.sandbox.server_fixtures import sdk_client


def test_legacy_shapes_put_subscription_and_periods_back(tmp_path: Any) -> None:
    acct = FakeAccount()
    with SandboxServer(acct, api_shapes="legacy") as srv:
        assert srv.base_url is not None
        client = sdk_client(srv.base_url)
        invoices = list(client.v1.invoices.list({"limit": 100}).auto_paging_iter())
        for inv in invoices:
            raw = inv.to_dict()
            assert "parent" not in raw
            stored = acct.objects["invoice"][inv.id]["parent"]["subscription_details"]
            assert raw["subscription"] == stored["subscription"]
            assert raw["paid"] is (raw["status"] == "paid")
            line = raw["lines"]["data"][0]
            assert "parent" not in line and "pricing" not in line
            assert line["type"] == "subscription"
            assert line["proration"] is False
            assert line["price"]["object"] == "price"
            assert line["plan"]["object"] == "plan"
            assert line["plan"]["amount"] == line["price"]["unit_amount"]
            assert line["subscription_item"].startswith("si_")
        sub = client.v1.subscriptions.list({"limit": 1}).data[0].to_dict()
        stored_item = acct.objects["subscription"][sub["id"]]["items"]["data"][0]
        assert sub["current_period_start"] == stored_item["current_period_start"]
        assert sub["current_period_end"] == stored_item["current_period_end"]
        assert "current_period_start" not in sub["items"]["data"][0]
        item = client.v1.invoice_items.list().data[0].to_dict()
        assert "parent" not in item and item["price"]["object"] == "price"
        evt = client.v1.events.list({"type": "invoice.paid", "limit": 1}).data[0]
        assert evt.api_version < "2025-03-31"
        assert "parent" not in evt.data.object.to_dict()
        assert evt.data.object.subscription is not None
        # The stored objects are not changed by rendering.
        assert "parent" in next(iter(acct.objects["invoice"].values()))


def test_rate_limit_answers_429_then_succeeds_after_backing_off() -> None:
    acct = FakeAccount(customers=5)
    with SandboxServer(acct, rate_limit=2.0) as srv:
        assert srv.base_url is not None
        client = sdk_client(srv.base_url)
        limited: list[stripe.RateLimitError] = []
        for _ in range(6):
            try:
                client.v1.customers.list()
            except stripe.RateLimitError as exc:
                limited.append(exc)
        assert limited, "six requests at once must exceed 2 per second"
        exc = limited[0]
        assert exc.http_status == 429
        assert exc.json_body is not None
        assert exc.json_body["error"]["code"] == "rate_limit"
        assert exc.headers is not None
        assert exc.headers["Stripe-Rate-Limited-Reason"] == "global-rate"
        assert exc.headers["Request-Id"].startswith("req_")
        # A client that backs off gets through.
        for attempt in range(10):
            try:
                page = client.v1.customers.list()
                break
            except stripe.RateLimitError:
                time.sleep(0.25 * (attempt + 1))
        else:
            pytest.fail("never got past the rate limit")
        assert len(page.data) == 5
        stats = srv.stats()
        assert stats["rate_limited"] == stats["by_path"]["GET /v1/customers"]["429"] >= 1


def test_faults_are_survived_by_sdk_retries_with_identical_results() -> None:
    acct = FakeAccount()
    with SandboxServer(acct) as clean:
        assert clean.base_url is not None
        expected = [
            e.to_dict()
            for e in sdk_client(clean.base_url).v1.events.list({"limit": 10}).auto_paging_iter()
        ]
    with SandboxServer(acct, fault_rate=0.3, fault_seed=7, slow_reply_seconds=(0.05, 0.1)) as srv:
        assert srv.base_url is not None
        client = sdk_client(srv.base_url, retries=3)
        got = [e.to_dict() for e in client.v1.events.list({"limit": 10}).auto_paging_iter()]
        stats = srv.stats()
    assert got == expected
    assert len(expected) > 50
    assert sum(stats["faults"].values()) >= 3
    assert stats["faults"]["500"] + stats["faults"]["503"] + stats["faults"]["dropped"] >= 1


def test_advancing_the_clock_adds_events_and_objects() -> None:
    acct = FakeAccount()
    with SandboxServer(acct) as srv:
        assert srv.base_url is not None
        client = sdk_client(srv.base_url)
        events_before = [e.id for e in client.v1.events.list({"limit": 100}).auto_paging_iter()]
        invoices_before = {i.id for i in client.v1.invoices.list({"limit": 100}).auto_paging_iter()}
        newest = client.v1.events.list({"limit": 1}).data[0]
        then = acct.now

        result = srv.advance(31)
        assert result["object"] == "sandbox_clock"
        assert result["now"] == acct.now == then + 31 * 86400
        assert result["events"] > 0

        # The documented HTTP helper, with the days in the query or in a form body.
        req = urllib.request.Request(
            srv.base_url + "/v1/test_helpers/advance?days=2", method="POST"
        )
        req.add_header("Authorization", "Bearer sk_test_x")
        with urllib.request.urlopen(req) as resp:
            over_http = json.loads(resp.read())
        assert over_http["now"] == then + 33 * 86400
        sdk_result = client.raw_request("post", "/v1/test_helpers/advance", days=1)
        assert json.loads(sdk_result.body)["now"] == then + 34 * 86400

        events_after = [e.id for e in client.v1.events.list({"limit": 100}).auto_paging_iter()]
        assert (
            len(events_after)
            == len(events_before)
            + result["events"]
            + over_http["events"]
            + json.loads(sdk_result.body)["events"]
        )
        assert events_after[len(events_after) - len(events_before) :] == events_before
        # An incremental reader picks up exactly the new events.
        new = [
            e.id
            for e in client.v1.events.list(
                {"ending_before": newest.id, "limit": 7}
            ).auto_paging_iter()
        ]
        assert sorted(new) == sorted(events_after[: len(events_after) - len(events_before)])
        since = client.v1.events.list({"created": {"gt": then}, "limit": 100})
        assert {e.id for e in since.auto_paging_iter()} == set(new)
        invoices_after = {i.id for i in client.v1.invoices.list({"limit": 100}).auto_paging_iter()}
        assert invoices_before < invoices_after


def test_advance_rejects_bad_days() -> None:
    acct = FakeAccount(customers=3)
    with SandboxServer(acct) as srv:
        assert srv.base_url is not None
        client = sdk_client(srv.base_url)
        for days in ("0", "abc", "-3"):
            with pytest.raises(stripe.InvalidRequestError) as err:
                client.raw_request("post", "/v1/test_helpers/advance", days=days)
            assert err.value.param == "days"
        with pytest.raises(stripe.InvalidRequestError):
            client.raw_request("post", "/v1/customers", email="x@example.com")
        assert acct.now == FakeAccount(customers=3).now
