"""`past_due_grace_days` on automatically charged invoices (spec section 1).

Stripe leaves `due_date` null when it charges automatically: such an invoice falls due
when it is finalized (`status_transitions.finalized_at`), so an open renewal whose charge
failed counts while it is less than the grace period past that instant.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, text

from etl.config import load_settings
from etl.metrics.recompute import recompute
from etl.sandbox.server.app import SandboxServer
from etl.sandbox.simulation.generator import generate_account
from tests.sync.helpers import sync

END = datetime(2026, 11, 1, tzinfo=UTC)


def _mrr(engine: Engine, customer_id: int, grace_days: int, as_of: datetime) -> int:
    settings = load_settings(database_url=str(engine.url), past_due_grace_days=grace_days)
    recompute(engine, settings, as_of=as_of)
    with engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT mrr FROM customer_mrr WHERE customer_id = :c AND month = :m"),
                {"c": customer_id, "m": as_of.date().replace(day=1)},
            ).scalar_one_or_none()
            or 0
        )


def test_grace_days_apply_from_finalization_when_stripe_charges(engine: Engine) -> None:
    acct = generate_account(seed=2, customers=150, months=6, end=END)
    with SandboxServer(acct) as srv:
        sync(engine, srv, recompute=False)
    # An open, automatically charged renewal (its charge failed): due_date is null.
    failed = [
        inv
        for inv in acct.objects["invoice"].values()
        if inv["status"] == "open"
        and inv["collection_method"] == "charge_automatically"
        and inv["due_date"] is None
        and inv["billing_reason"] == "subscription_cycle"
    ]
    assert failed, "the account has a failed renewal still open"
    inv = failed[0]
    finalized = datetime.fromtimestamp(inv["status_transitions"]["finalized_at"], UTC)
    with engine.connect() as conn:
        customer_id, stored = conn.execute(
            text("SELECT customer_id, finalized_at FROM invoices WHERE id = :i"), {"i": inv["id"]}
        ).one()
        due = conn.execute(
            text("SELECT DISTINCT due_date FROM revenue_lines WHERE invoice_id = :i"),
            {"i": inv["id"]},
        ).scalar_one()
    assert str(stored)[:19] == str(due)[:19] == finalized.strftime("%Y-%m-%d %H:%M:%S")
    as_of = (finalized + timedelta(days=2)).replace(tzinfo=None)
    without = _mrr(engine, customer_id, 0, as_of)
    within = _mrr(engine, customer_id, 5, as_of)
    assert within > without  # counted for the 5 days after it fell due
    past = _mrr(engine, customer_id, 1, as_of)  # 2 days past due: out of a 1-day grace
    assert past == without
