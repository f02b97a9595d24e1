"""Odd pages from Stripe stop the run, name the endpoint and never count as "deleted".

Each test puts the sandbox behind `tests.sync.hostile` and runs `etl sync` or
`etl run-job reconcile` as users do (`etl.cli.main`), on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from etl.cli import main
from tests.sync.helpers import sandbox
from tests.sync.hostile import HostileStripe, Reply, elapsed, hostile, on_path, page


@pytest.fixture
def proxy(clean_env: Path, monkeypatch: pytest.MonkeyPatch, db_url: str) -> Iterator[HostileStripe]:
    with sandbox(customers=12, months=3, seed=4) as srv, hostile(str(srv.base_url)) as p:
        monkeypatch.setenv("DATABASE_URL", db_url)
        monkeypatch.setenv("STRIPE_API_KEY", "sk_test_hostile")
        monkeypatch.setenv("STRIPE_API_BASE", p.base_url)
        monkeypatch.setenv("ETL_LOG_FORMAT", "json")
        monkeypatch.setenv("ETL_STRIPE_RATE_LIMIT", "1000")
        monkeypatch.setenv("ETL_JOB_RETRIES", "0")
        yield p


def _deleted_customers(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return tuple(  # type: ignore[return-value]
            conn.execute(
                text("SELECT count(*), count(*) FILTER (WHERE deleted) FROM customers")
            ).one()
        )


def _sync_runs(engine: Engine) -> list[tuple[str, str | None]]:
    with engine.connect() as conn:
        return [
            (r[0], r[1])
            for r in conn.execute(text("SELECT status, error FROM sync_runs ORDER BY id"))
        ]


def _without_data(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if k != "data"}


SPOILED_PAGES = {
    "no data": (_without_data, 'no "data" list'),
    "a string in data": (lambda a: {**a, "data": [*a["data"], "cus_x"]}, "data["),
    "an object without id": (lambda a: {**a, "data": [{"object": "customer"}]}, "has no id"),
    "has_more on an empty page": (lambda a: {**a, "data": [], "has_more": True}, "empty page"),
}


@pytest.mark.parametrize("spoil", SPOILED_PAGES)
def test_a_customers_page_that_is_not_whole_stops_the_first_sync(
    proxy: HostileStripe, engine: Engine, spoil: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fn, problem = SPOILED_PAGES[spoil]
    proxy.rule = on_path("/v1/customers", fn)
    assert main(["sync", "--no-progress", "--workers", "2"]) == 1
    err = capsys.readouterr().err
    assert "GET /v1/customers" in err and problem in err
    deleted = _deleted_customers(engine)[1]
    # Customers referenced by subscriptions and invoices were never inferred deleted.
    assert deleted == 0
    assert _sync_runs(engine)[-1][0] == "failed"
    # The lock is free: the next sync, against a sane Stripe, completes.
    proxy.rule = None
    assert main(["sync", "--no-progress"]) == 0


def test_reconcile_with_an_empty_customers_page_marks_nobody_deleted(
    proxy: HostileStripe, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sync", "--no-progress"]) == 0
    before = _deleted_customers(engine)
    proxy.rule = on_path("/v1/customers", _without_data)
    assert main(["run-job", "reconcile"]) == 1
    out = capsys.readouterr()
    assert "/v1/customers" in out.out + out.err
    assert _deleted_customers(engine) == before


def test_reconcile_refuses_to_mark_more_than_the_share_of_a_table(
    proxy: HostileStripe,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["sync", "--no-progress"]) == 0
    before = _deleted_customers(engine)
    # A whole, well-formed listing that simply leaves most customers out (one page).
    proxy.rule = on_path("/v1/customers", lambda a: {**a, "data": a["data"][:3], "has_more": False})
    assert main(["run-job", "reconcile"]) == 1
    out = capsys.readouterr()
    assert "ETL_RECONCILE_MAX_DELETE_SHARE" in out.out + out.err
    assert _deleted_customers(engine) == before
    # Raised to 1, the same listing is accepted: the customers left out are marked.
    monkeypatch.setenv("ETL_RECONCILE_MAX_DELETE_SHARE", "1")
    assert main(["run-job", "reconcile"]) == 0
    total = before[0]
    assert _deleted_customers(engine) == (total, total - 3)


def test_has_more_with_the_same_page_again_stops_instead_of_looping(
    proxy: HostileStripe, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    first: dict[str, Any] = {}

    def same_page(path: str, _q: dict[str, str], answer: Any) -> Reply | None:
        if path != "/v1/invoices":
            return None
        first.setdefault("page", {**answer, "data": answer["data"][:2], "has_more": True})
        return page(first["page"])

    proxy.rule = same_page
    code, seconds = elapsed(lambda: main(["sync", "--no-progress", "--workers", "2"]))
    assert code == 1 and seconds < 60
    err = capsys.readouterr().err
    assert "GET /v1/invoices" in err and "no progress" in err
    assert _sync_runs(engine)[-1][0] == "failed"


def test_events_answering_has_more_with_the_same_ids_stop_the_incremental(
    proxy: HostileStripe, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sync", "--no-progress"]) == 0
    with engine.connect() as conn:
        events_cursor = conn.execute(
            text("SELECT cursor FROM sync_cursors WHERE resource LIKE 'events%' LIMIT 1")
        ).scalar_one()
    assert events_cursor

    def same_events(path: str, query: dict[str, str], answer: Any) -> Reply | None:
        if path != "/v1/events" or "ending_before" not in query:
            return None
        fake = {"id": "evt_loop", "object": "event", "type": "customer.updated", "data": {}}
        return page({**answer, "data": [fake], "has_more": True})

    proxy.rule = same_events
    code, seconds = elapsed(lambda: main(["sync", "--no-progress"]))
    assert code == 1 and seconds < 60
    err = capsys.readouterr().err
    assert "GET /v1/events" in err and "no progress" in err
