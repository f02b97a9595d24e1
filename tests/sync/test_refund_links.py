"""A refund event rendered in an API version before 2026-10-28 names no customer; the
stored link must survive it (a missing field is not news that the link is gone)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, text

from etl.sandbox.server.app import SandboxServer
from etl.sandbox.simulation.generator import generate_account
from tests.sync.helpers import sync

END = datetime(2026, 11, 1, tzinfo=UTC)

_COUNTED = (
    "SELECT COALESCE(r.customer_id, i.customer_id), r.amount FROM refunds r"
    " LEFT JOIN invoices i ON i.id = r.invoice_id WHERE r.id = :r"
)


def test_refund_event_without_customer_keeps_the_stored_link(engine: Engine) -> None:
    acct = generate_account(seed=4, customers=60, months=8, end=END)
    refunds = acct.objects["refund"]
    assert refunds, "the account has refunds"
    rid = next(iter(refunds))
    # A refund of a charge that paid no invoice: only `refund.customer` says whose it is.
    refunds[rid] = {**refunds[rid], "charge": "ch_standalone", "payment_intent": "pi_standalone"}
    with SandboxServer(acct) as srv:  # the full load, at the client's (current) version
        assert sync(engine, srv).kind == "full"
    with engine.connect() as conn:
        before = conn.execute(text(_COUNTED), {"r": rid}).one()
    assert before[0] is not None
    acct.advance(1)
    acct.update(acct.now, "refund", rid, "refund.updated", metadata={"note": "checked"})
    # The event as Stripe renders it for an account on 2025-02-24.acacia: refunds had no
    # `customer` (nor `customer_account`) before 2026-10-28. (The sandbox's legacy mode
    # still carries them: another part of issue 12 makes it one real older version.)
    event = next(reversed(acct.objects["event"].values()))
    assert event["type"] == "refund.updated"
    old = {
        k: v
        for k, v in event["data"]["object"].items()
        if k not in ("customer", "customer_account")
    }
    event["data"] = {**event["data"], "object": old}
    event["api_version"] = "2025-02-24.acacia"
    with SandboxServer(acct, api_shapes="legacy") as srv:
        assert srv.base_url is not None
        inc = sync(engine, srv)
        assert inc.kind == "incremental" and inc.objects > 0
    with engine.connect() as conn:
        after = conn.execute(text(_COUNTED), {"r": rid}).one()
        raw = conn.execute(
            text("SELECT count(*) FROM raw_objects WHERE stripe_id = :r AND source = 'event'"),
            {"r": rid},
        ).scalar_one()
    assert raw >= 1  # the event was applied
    assert tuple(after) == tuple(before)
