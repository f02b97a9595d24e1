"""The sync against the sandbox served over HTTP, through the real stripe SDK."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select, text, update
from structlog.testing import capture_logs

from etl.clock import utcnow
from etl.db import tables
from tests.sync.helpers import counts, diff, sandbox, snapshot, sync

SMALL = {"customers": 40, "months": 9, "seed": 7}


def test_full_then_incremental_equals_fresh_full_load(engine: Engine, other_engine: Engine) -> None:
    with sandbox(**SMALL) as srv:
        first = sync(engine, srv)
        assert first.kind == "full" and first.status == "ok"
        n = counts(engine)
        assert n["customers"] >= 40 and n["invoices"] > 50 and n["invoice_lines"] >= n["invoices"]
        assert n["subscription_items"] >= n["subscriptions"] > 0
        # Nothing changed: the incremental sync costs a handful of requests, writes nothing.
        before, tables, stamps = srv.stats()["total"], snapshot(engine), _stamps(engine)
        idle = sync(engine, srv)
        assert idle.kind == "incremental"
        assert srv.stats()["total"] - before <= 5
        assert diff(tables, snapshot(engine)) == {}
        assert _stamps(engine) == stamps  # unchanged rows keep their updated_at
        srv.advance(12)
        inc = sync(engine, srv)
        assert inc.kind == "incremental" and inc.objects > 0
        fresh = sync(other_engine, srv)
        assert fresh.kind == "full"
        assert diff(snapshot(engine), snapshot(other_engine)) == {}


def _stamps(engine: Engine) -> dict[str, object]:
    with engine.connect() as conn:
        return {
            # S608: t is one of the table names below, never a value.
            t: conn.execute(text(f"SELECT max(updated_at) FROM {t}")).scalar()  # noqa: S608
            for t in ("customers", "invoices", "invoice_lines", "subscriptions", "plans")
        }


def test_legacy_shapes_give_the_same_tables(
    sqlite_engine_factory: Callable[[str], Engine],
) -> None:
    """The same account served in the pre-2025-03-31 shapes normalizes to the same rows,
    and incremental sync over legacy-shaped events matches a fresh legacy load."""
    current, legacy = sqlite_engine_factory("current"), sqlite_engine_factory("legacy")
    with sandbox(**SMALL, api_shapes="current") as srv:
        sync(current, srv)
    with sandbox(**SMALL, api_shapes="legacy") as srv:
        sync(legacy, srv)
        assert counts(current)["invoices"] > 0
        assert diff(snapshot(current), snapshot(legacy)) == {}
        srv.advance(10)
        inc = sync(legacy, srv)
        assert inc.kind == "incremental" and inc.objects > 0
        again = sqlite_engine_factory("legacy_fresh")
        sync(again, srv)
        assert diff(snapshot(legacy), snapshot(again)) == {}


def test_faults_and_rate_limits_give_identical_tables(
    sqlite_engine_factory: Callable[[str], Engine],
) -> None:
    clean, faulty, limited = (sqlite_engine_factory(n) for n in ("clean", "faulty", "limited"))
    with sandbox(**SMALL) as srv:
        sync(clean, srv)
    with sandbox(**SMALL, fault_rate=0.1, fault_seed=1) as srv:
        s = sync(faulty, srv)
        assert s.status == "ok"
        faults = srv.stats()["faults"]
        assert sum(faults.values()) > 0
    with sandbox(**SMALL, rate_limit=8) as srv:
        s = sync(limited, srv, workers=6)
        assert s.rate_limited > 0 and s.retries >= s.rate_limited
    reference = snapshot(clean)
    assert diff(reference, snapshot(faulty)) == {}
    assert diff(reference, snapshot(limited)) == {}


def test_client_side_rate_limit_keeps_the_server_happy(engine: Engine) -> None:
    with sandbox(customers=20, months=4, seed=3, rate_limit=30) as srv:
        s = sync(engine, srv, unlimited=False, rate_limit=25.0)
        assert s.status == "ok"
        assert srv.stats()["rate_limited"] == 0
        # At most the bucket's burst (a quarter second's worth) above 25 per second.
        assert s.requests <= 25 * s.duration_s + 25 / 4 + 1


def test_cursor_older_than_30_days_falls_back_to_full_load(engine: Engine) -> None:
    with sandbox(customers=20, months=4, seed=5) as srv:
        sync(engine, srv)
        old = (utcnow() - timedelta(days=31)).isoformat()
        t = tables.sync_cursors
        with engine.begin() as conn:
            for row in conn.execute(select(t).where(t.c.resource.like("events:%"))).all():
                state = json.loads(row.state_json)
                state["checked_at"] = old
                conn.execute(
                    update(t)
                    .where(t.c.resource == row.resource)
                    .values(state_json=json.dumps(state))
                )
        with capture_logs() as logs:
            s = sync(engine, srv)
        assert s.kind == "full" and s.fell_back_to_full
        assert any("older than Stripe's 30 days" in str(e.get("message", "")) for e in logs), logs
        s = sync(engine, srv)
        assert s.kind == "incremental"


def test_malformed_object_is_stored_raw_and_counted(engine: Engine) -> None:
    with sandbox(customers=20, months=4, seed=5) as srv:
        acct: Any = srv.account  # type: ignore[attr-defined]
        with acct.lock:
            inv = next(iter(acct.objects["invoice"].values()))
            inv["currency"] = None
        s = sync(engine, srv)
    assert s.status == "ok" and s.malformed == 1 and inv["id"] in s.malformed_ids
    with engine.connect() as conn:
        raw = conn.execute(
            text("SELECT malformed FROM raw_objects WHERE stripe_id = :i"), {"i": inv["id"]}
        ).all()
        assert raw and all(r[0] for r in raw)
        assert (
            conn.execute(
                text("SELECT count(*) FROM invoices WHERE id = :i"), {"i": inv["id"]}
            ).scalar()
            == 0
        )
        assert (
            conn.execute(text("SELECT malformed FROM sync_runs ORDER BY id DESC")).first()[0] == 1
        )


def test_api_customers_untouched_email_collisions_and_stripe_wins(engine: Engine) -> None:
    with sandbox(customers=20, months=4, seed=5) as srv:
        acct: Any = srv.account  # type: ignore[attr-defined]
        with acct.lock:
            stripe_customers = [
                c
                for c in acct.objects["customer"].values()
                if c.get("email") and not c.get("_deleted")
            ]
        taken = stripe_customers[0]
        c = tables.customers
        now = datetime(2026, 1, 1)
        with engine.begin() as conn:
            conn.execute(
                c.insert().values(
                    email=taken["email"].upper(),
                    email_key=taken["email"].lower(),
                    name="API made",
                    source="api",
                    deleted=False,
                    updated_at=now,
                )
            )
        sync(engine, srv)
        with engine.connect() as conn:
            api_row = conn.execute(select(c).where(c.c.stripe_id.is_(None))).one()
            assert (api_row.name, api_row.email_key, api_row.updated_at) == (
                "API made",
                taken["email"].lower(),
                now,
            )
            clash = conn.execute(select(c).where(c.c.stripe_id == taken["id"])).one()
            assert clash.email == taken["email"] and clash.email_key is None
            other = conn.execute(select(c).where(c.c.stripe_id == stripe_customers[1]["id"])).one()
            assert other.email_key == stripe_customers[1]["email"].lower()
        # Set through the API: kept where Stripe has no value, overridden where it has one.
        plain = next(
            x
            for x in stripe_customers[1:]
            if x.get("name") and not (x.get("metadata") or {}).get("extra_id")
        )
        with engine.begin() as conn:
            conn.execute(
                update(c)
                .where(c.c.stripe_id == plain["id"])
                .values(extra_id="TEAM-X", name="renamed")
            )
        full = sync(engine, srv, full=True)
        assert full.kind == "full"
        with engine.connect() as conn:
            row = conn.execute(select(c).where(c.c.stripe_id == plain["id"])).one()
            assert (row.extra_id, row.name) == ("TEAM-X", plain["name"])


def test_backfill_loads_a_date_range_only(engine: Engine) -> None:
    with sandbox(customers=30, months=6, seed=9) as srv:
        acct: Any = srv.account  # type: ignore[attr-defined]
        since = datetime.fromtimestamp(acct.now, UTC).replace(tzinfo=None) - timedelta(days=60)
        s = sync(engine, srv, backfill=True, since=since.date())
        assert s.kind == "backfill" and s.objects > 0
        with engine.connect() as conn:
            oldest = conn.execute(text("SELECT min(created) FROM invoices")).scalar()
            assert str(oldest) >= since.strftime("%Y-%m-%d")
            # A backfill leaves the incremental machinery alone.
            assert conn.execute(text("SELECT count(*) FROM sync_cursors")).scalar() == 0


def test_pages_prepared_in_worker_processes_give_identical_tables(
    engine: Engine, other_engine: Engine
) -> None:
    """A large load parses and normalizes its pages in worker processes: the tables are
    the same as when the fetching threads do it, invoices with more than the embedded
    lines included."""
    with sandbox(customers=60, months=12, seed=11) as srv:
        with capture_logs() as logs:
            pooled = sync(engine, srv, processes=2, prepare_after_pages=0)
        assert [e for e in logs if e["event"] == "prepare_pool_started"]
        threaded = sync(other_engine, srv, processes=0)
        assert pooled.status == threaded.status == "ok"
        assert pooled.counts == threaded.counts and pooled.objects == threaded.objects
        with engine.connect() as conn:
            longest = conn.execute(
                text(
                    "SELECT max(n) FROM (SELECT count(*) AS n FROM invoice_lines GROUP BY invoice_id) t"
                )
            ).scalar_one()
        assert longest > 10  # some invoices needed /v1/invoices/{id}/lines
        assert diff(snapshot(engine), snapshot(other_engine)) == {}
        assert _raw_versions(engine) == _raw_versions(other_engine)


def _raw_versions(engine: Engine) -> list[tuple[str, str, str, bool]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT object_type, stripe_id, content_hash, is_current FROM raw_objects")
        ).all()
    return sorted((a, b, c, bool(d)) for a, b, c, d in rows)


def test_full_load_on_postgresql_analyzes_the_tables_it_fills(
    engine: Engine, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without statistics PostgreSQL plans the per-page DELETE of stale lines as a
    sequential scan; a load analyzes its tables as they grow (SQLite needs nothing)."""
    from etl.sync import runner

    monkeypatch.setattr(runner, "ANALYZE_FIRST_AT_PAGES", 2)
    with sandbox(**SMALL) as srv:
        assert sync(engine, srv).status == "ok"
    if backend != "postgresql":
        return
    with engine.connect() as conn:
        analyzed = conn.execute(
            text(
                "SELECT relname FROM pg_stat_user_tables "
                "WHERE last_analyze IS NOT NULL AND relname IN ('invoice_lines', 'raw_objects')"
            )
        ).scalars()
        assert sorted(analyzed) == ["invoice_lines", "raw_objects"]


def test_a_broken_worker_pool_falls_back_to_the_fetching_threads(
    engine: Engine, other_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker killed mid-load (e.g. out of memory) breaks the pool: the load goes on,
    preparing its pages in the fetching threads, and loses nothing."""
    import signal
    from concurrent.futures import ProcessPoolExecutor

    from etl.sync import pipeline

    class KilledAtTheSixthPage(ProcessPoolExecutor):
        calls = 0

        def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
            KilledAtTheSixthPage.calls += 1
            if KilledAtTheSixthPage.calls == 6 and self._processes:
                for pid in list(self._processes):  # its workers die
                    os.kill(pid, signal.SIGKILL)
            return super().submit(fn, *args, **kwargs)

    monkeypatch.setattr(pipeline, "ProcessPoolExecutor", KilledAtTheSixthPage)
    with sandbox(customers=60, months=12, seed=11) as srv:
        with capture_logs() as logs:
            broken = sync(engine, srv, processes=2, prepare_after_pages=0)
        assert broken.status == "ok"
        assert [e for e in logs if e["event"] == "prepare_pool_failed"]
        sync(other_engine, srv, processes=0)
        assert diff(snapshot(engine), snapshot(other_engine)) == {}
        assert _raw_versions(engine) == _raw_versions(other_engine)
