"""Event payloads rendered in API versions older than the client's, through the SDK.

Before 2019-12-03 Stripe gave invoice lines ids that several invoices share (`sli_…` of
the subscription item, `ii_…` of the invoice item); the sandbox's legacy mode renders a
share of the invoices' event payloads so. Each invoice must keep its own lines.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, text

from etl.sandbox.server.app import SandboxServer
from etl.sandbox.server.shapes import PRE_2019_API_VERSION
from etl.sandbox.simulation.generator import generate_account
from tests.sync.helpers import sync

END = datetime(2026, 11, 1, tzinfo=UTC)


def _revenue(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    """Lines per invoice and revenue per month: what a takeover of lines would change."""
    with engine.connect() as conn:
        lines = conn.execute(
            text(
                "SELECT invoice_id, count(*), sum(amount) FROM invoice_lines"
                " GROUP BY invoice_id ORDER BY invoice_id"
            )
        ).all()
        revenue = conn.execute(
            text(
                "SELECT invoice_id, count(*), sum(net_amount) FROM revenue_lines"
                " GROUP BY invoice_id ORDER BY invoice_id"
            )
        ).all()
        mrr = conn.execute(
            text("SELECT currency, month, mrr FROM mrr_monthly ORDER BY currency, month")
        ).all()
    return {
        "lines": [tuple(r) for r in lines],
        "revenue": [tuple(r) for r in revenue],
        "mrr": [tuple(map(str, r)) for r in mrr],
    }


def test_pre_2019_line_ids_in_events_keep_every_invoices_lines(
    engine: Engine, other_engine: Engine
) -> None:
    acct = generate_account(seed=11, customers=40, months=6, end=END)
    with SandboxServer(acct, api_shapes="legacy") as srv:
        assert srv.base_url is not None
        sync(engine, srv)
        for _ in range(3):  # weeks of renewals arrive as events only
            srv.advance(20)
            assert sync(engine, srv).kind == "incremental"
        with engine.connect() as conn:
            old_payloads = conn.execute(
                text("SELECT count(*) FROM raw_objects WHERE api_version = :v"),
                {"v": PRE_2019_API_VERSION},
            ).scalar_one()
            shared = conn.execute(
                text("SELECT count(*) FROM invoice_lines WHERE id LIKE 'sli_%'")
            ).scalar_one()
        assert old_payloads > 0
        assert shared == 0  # each line keeps its own id (`unique_id`)
        fresh = sync(other_engine, srv)
        assert fresh.kind == "full"
    assert _revenue(engine) == _revenue(other_engine)
