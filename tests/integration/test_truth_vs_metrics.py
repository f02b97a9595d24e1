"""The two paths to MRR agree: invoices synced from the sandbox through the metrics
engine give, for every month and customer, the figures the generator derives from its
subscription timeline. A difference is a bug in one of them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import stripe
from sqlalchemy import Engine, text

from etl.config import load_settings
from etl.extract.client import API_VERSION
from etl.metrics.recompute import recompute
from etl.sandbox.server.app import SandboxServer
from etl.sandbox.simulation.generator import generate_account
from etl.sandbox.simulation.truth import ground_truth
from etl.sync.runner import SyncOptions
from jobs.sync import sync_then_recompute

END = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="module", params=[(7, 120, 20), (11, 300, 30)], ids=lambda p: f"seed{p[0]}")
def account(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    seed, customers, months = request.param
    return generate_account(seed=seed, customers=customers, months=months, end=END)


@pytest.fixture
def synced(engine: Engine, account, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    for var in ("ETL_TIMEZONE", "ETL_INCLUDE_TAX", "ETL_PAST_DUE_GRACE_DAYS"):
        monkeypatch.delenv(var, raising=False)
    settings = load_settings(stripe_api_key="sk_test_truth")
    with SandboxServer(account) as srv:
        client = stripe.StripeClient(
            "sk_test_truth",
            base_addresses={"api": srv.base_url},  # type: ignore[arg-type]
            stripe_version=API_VERSION,
            max_network_retries=0,
        )
        sync_then_recompute(
            engine,
            client,
            settings,
            SyncOptions(full=True, unlimited=True, progress=False),
            recompute=False,
        )
    as_of = datetime.fromtimestamp(account.now, UTC)
    recompute(engine, settings, as_of=as_of, full=True)
    yield engine


def test_invoice_based_metrics_equal_the_subscription_truth(synced: Engine, account) -> None:  # type: ignore[no-untyped-def]
    # One sync per backend, three views of the same comparison.
    truth = ground_truth(account)
    _monthly_mrr_and_movements(synced, truth)
    _every_customer_month(synced, truth)
    _current_mrr_per_customer(synced, truth)


def _monthly_mrr_and_movements(synced: Engine, truth) -> None:  # type: ignore[no-untyped-def]
    with synced.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT month, currency, mrr, new_mrr, reactivation_mrr, expansion_mrr,"
                " contraction_mrr, lost_mrr, customers, subscriptions, is_current FROM mrr_monthly WHERE basis = 'native'"
            )
        ).all()
    ours = {}
    for r in rows:
        month = r.month if not isinstance(r.month, str) else datetime.fromisoformat(r.month).date()
        if r.is_current:
            continue
        ours[(r.currency, month)] = (
            r.mrr,
            r.new_mrr - r.reactivation_mrr,
            r.reactivation_mrr,
            r.expansion_mrr,
            r.contraction_mrr,
            r.lost_mrr,
            r.customers,
            r.subscriptions,
        )
    expected = {
        key: (
            m.mrr,
            m.new,
            m.reactivation,
            m.expansion,
            m.contraction,
            m.churn,
            m.customers,
            m.subscriptions,
        )
        for key, m in truth.monthly.items()
        if not m.is_current and (m.mrr or m.new or m.churn or m.reactivation)
    }
    assert expected, "the generated account has no MRR at all"
    ours = {k: v for k, v in ours.items() if any(v)}
    diff = {
        k: (ours.get(k), expected.get(k))
        for k in sorted(set(ours) | set(expected))
        if ours.get(k) != expected.get(k)
    }
    assert not diff, f"{len(diff)} months differ (ours, truth): {list(diff.items())[:5]}"


def _every_customer_month(synced: Engine, truth) -> None:  # type: ignore[no-untyped-def]
    current = truth.current_month
    with synced.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT c.stripe_id, m.month, m.mrr FROM customer_mrr m"
                " JOIN customers c ON c.id = m.customer_id WHERE m.mrr > 0"
            )
        ).all()
    ours = {}
    for sid, month, mrr in rows:
        month = month if not isinstance(month, str) else datetime.fromisoformat(month).date()
        if month != current:
            ours[(sid, month)] = mrr
    expected = {k: v for k, v in truth.customer_month_mrr.items() if k[1] != current and v}
    diff = {
        k: (ours.get(k), expected.get(k))
        for k in sorted(set(ours) | set(expected))
        if ours.get(k) != expected.get(k)
    }
    assert not diff, f"{len(diff)} customer-months differ (ours, truth): {list(diff.items())[:8]}"


def _current_mrr_per_customer(synced: Engine, truth) -> None:  # type: ignore[no-untyped-def]
    with synced.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT c.stripe_id, s.currency, s.current_mrr FROM customer_snapshots s"
                " JOIN customers c ON c.id = s.customer_id WHERE s.current_mrr > 0"
            )
        ).all()
    ours = {sid: (cur, mrr) for sid, cur, mrr in rows}
    assert truth.customer_mrr, "no customer has MRR in the current month"
    assert ours == truth.customer_mrr
