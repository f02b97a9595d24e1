"""A dormant account (no event in Stripe's 30 days of events) syncs like any other.

New, quiet and test accounts have an empty event list: that is a normal state. The
sandbox's `quiet_days` makes one, through the real SDK over HTTP.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from etl.api.app import create_app
from etl.api.keys import create_key
from etl.bootstrap import bootstrap
from etl.config import load_settings
from etl.sandbox.server.app import SandboxServer
from etl.sandbox.simulation.generator import generate_account
from tests.sync.helpers import counts, sync

END = datetime(2026, 11, 1, tzinfo=UTC)


def test_dormant_account_syncs_recomputes_and_a_second_sync_is_cheap(
    engine: Engine, db_url: str
) -> None:
    acct = generate_account(seed=5, customers=30, months=6, end=END, quiet_days=35)
    assert acct.objects["event"] == {}  # nothing in the last 30 days: Stripe lists none
    with SandboxServer(acct) as srv:
        first = sync(engine, srv)
        assert first.kind == "full" and first.status == "ok"
        n = counts(engine)
        assert n["customers"] >= 20 and n["invoices"] > 20
        with engine.connect() as conn:
            months = conn.execute(text("SELECT count(*) FROM mrr_monthly")).scalar_one()
        assert months > 0  # recompute ran and wrote the monthly figures
        before = srv.stats()["total"]
        again = sync(engine, srv)
        assert again.kind == "incremental" and again.status == "ok"
        assert srv.stats()["total"] - before <= 5
        full = sync(engine, srv, full=True)
        assert full.kind == "full" and full.status == "ok"
    _assert_served(db_url)


def _assert_served(db_url: str) -> None:
    """The API serves the dormant account's monthly figures."""
    container = bootstrap(load_settings(database_url=db_url), configure_logs=False)
    try:
        with container.engine.begin() as conn:
            _info, key = create_key(conn, "dormant")
        with TestClient(create_app(container)) as client:
            r = client.get("/v2/mrr", headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 200, r.text
        assert r.json()["data"], r.json()
    finally:
        container.close()
