"""The sync, reconcile and recompute jobs against the sandbox, through the real stripe SDK."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from etl.bootstrap import Container, bootstrap
from etl.config import load_settings
from etl.db.engine import make_engine
from etl.sandbox.server.app import SandboxServer
from etl.sandbox.simulation.generator import generate_account
from jobs.runner import run_entry, run_job
from jobs.schedule import entry
from tests.ops.helpers import ETL, etl_env, job_runs, wait_until

END = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    srv = SandboxServer(generate_account(seed=3, customers=40, months=6, end=END))
    srv.start(port=0)
    yield srv
    srv.stop()


@pytest.fixture
def container(db_url: str, sandbox: SandboxServer) -> Iterator[Container]:
    settings = load_settings(
        database_url=db_url,
        stripe_api_key="sk_test_ops",
        stripe_api_base=sandbox.base_url,
        stripe_rate_limit=1000,
        log_level="warning",
    )
    c = bootstrap(settings, configure_logs=False)
    yield c
    c.close()


def test_sync_entry_syncs_then_recomputes_and_records_both(container: Container) -> None:
    results = run_entry(container, entry(container.settings, "sync"))
    assert [(r.job, r.status) for r in results] == [("sync", "ok"), ("recompute", "ok")]
    sync = results[0].counts
    assert sync["kind"] == "full" and sync["objects"] > 0 and sync["counts"]["customer"] == 40
    runs = job_runs(container.engine)
    assert [(r["job"], r["status"]) for r in runs] == [("sync", "ok"), ("recompute", "ok")]
    with container.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM mrr_monthly")).scalar_one() > 0
        # The recompute's own job_runs row is the only one for it (no duplicate).
        assert runs[1]["id"] == results[1].run_id


def test_reconcile_reports_no_drift_then_repairs_tampered_rows(
    container: Container, sandbox: SandboxServer
) -> None:
    assert run_job(container, "sync").status == "ok"
    clean = run_job(container, "reconcile")
    assert clean.status == "ok", clean.error
    assert (clean.counts["drift_rows"], clean.counts["drift_raw_versions"]) == (0, 0)
    assert (clean.counts["not_seen"], clean.counts["deleted_marked"]) == ({}, {})
    assert clean.counts["rows_before"] == clean.counts["rows_after"]

    with container.engine.begin() as conn:
        cid, email = conn.execute(
            text(
                "SELECT id, email FROM customers WHERE stripe_id IS NOT NULL "
                "AND email IS NOT NULL ORDER BY id LIMIT 1"
            )
        ).one()
        conn.execute(
            text("UPDATE customers SET email = 'drifted@example.com' WHERE id = :i"), {"i": cid}
        )
        line_id = conn.execute(text("SELECT min(id) FROM invoice_lines")).scalar_one()
        conn.execute(text("DELETE FROM invoice_lines WHERE id = :i"), {"i": line_id})
        # A customer deleted in Stripe whose customer.deleted event was never seen.
        conn.execute(
            text(
                "INSERT INTO customers (stripe_id, email, source, deleted, created, updated_at) "
                "VALUES ('cus_deleted_in_stripe', 'gone@example.com', 'stripe', FALSE, :t, :t)"
            ),
            {"t": datetime(2026, 1, 1)},
        )
        conn.execute(
            text(
                "INSERT INTO raw_objects (object_type, stripe_id, fetched_at, source, deleted, "
                "malformed, is_current, content_hash, data) VALUES ('customer', "
                "'cus_deleted_in_stripe', :t, 'list', FALSE, FALSE, TRUE, :h, '{}')"
            ),
            {"t": datetime(2026, 1, 1), "h": "0" * 64},
        )
    repaired = run_job(container, "reconcile")
    assert repaired.status == "ok", repaired.error
    assert repaired.counts["not_seen"] == {"customer": 1}
    assert repaired.counts["deleted_marked"] == {"customers": 1}
    assert repaired.counts["rows_changed"] == {"customers": 1, "invoice_lines": 1}
    assert repaired.counts["new_raw_versions"] == {}
    with container.engine.connect() as conn:
        assert conn.execute(
            text("SELECT deleted FROM customers WHERE stripe_id = 'cus_deleted_in_stripe'")
        ).scalar_one()
    with container.engine.connect() as conn:
        assert (
            conn.execute(text("SELECT email FROM customers WHERE id = :i"), {"i": cid}).scalar_one()
            == email
        )
        assert (
            conn.execute(
                text("SELECT count(*) FROM invoice_lines WHERE id = :i"), {"i": line_id}
            ).scalar_one()
            == 1
        )


def test_reconcile_finds_changes_incremental_sync_has_not_seen(db_url: str) -> None:
    # Its own sandbox: advancing the clock changes the account.
    srv = SandboxServer(generate_account(seed=5, customers=30, months=4, end=END))
    base = srv.start(port=0)
    try:
        c = bootstrap(
            load_settings(
                database_url=db_url,
                stripe_api_key="sk_test_ops",
                stripe_api_base=base,
                stripe_rate_limit=1000,
                log_level="warning",
            ),
            configure_logs=False,
        )
        assert run_job(c, "sync").status == "ok"
        r = httpx.post(
            f"{base}/v1/test_helpers/advance?days=20",
            headers={"Authorization": "Bearer sk_test_ops"},
        )
        assert r.status_code == 200
        drift = run_job(c, "reconcile")
        assert drift.status == "ok", drift.error
        assert drift.counts["drift_raw_versions"] > 0
        assert drift.counts["drift_rows"] > 0
        again = run_job(c, "reconcile")
        assert again.counts["new_raw_versions"] == {}
        # Refunds are the exception: each full load writes them unlinked, then links them
        # to their invoice again (etl.load.save.link_refunds), so they always count.
        assert set(again.counts["rows_changed"]) <= {"refunds"}
        c.close()
    finally:
        srv.stop()


def test_overlapping_syncs_one_runs_the_other_is_skipped(
    db_url: str, sandbox: SandboxServer, tmp_path: Path
) -> None:
    """Two `etl run-job sync` started by cron at once: the lock lets exactly one run."""
    env = etl_env(
        tmp_path,
        db_url,
        STRIPE_API_KEY="sk_test_ops",
        STRIPE_API_BASE=str(sandbox.base_url),
        # Slow enough (a few requests per second) for the second to start during the first.
        ETL_STRIPE_RATE_LIMIT="2",
    )
    init = subprocess.run([*ETL, "init-db"], cwd=tmp_path, env=env, capture_output=True)
    assert init.returncode == 0, init.stderr
    engine = make_engine(db_url)
    cmd = [*ETL, "run-job", "sync", "--only", "--trigger", "cron"]
    first = subprocess.Popen(
        cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:

        def lock_held() -> bool:
            with engine.connect() as conn:
                return conn.execute(text("SELECT count(*) FROM locks")).scalar_one() > 0

        wait_until(lock_held, 60, "the first sync to take the lock")
        t0 = time.monotonic()
        second = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True)
        second_took = time.monotonic() - t0
        assert first.poll() is None, "the first sync ended before the second started"
        out1, err1 = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == 0, out1 + err1
    assert "sync: ok" in out1
    # The second was refused at once, said so, and exited 0 (nothing to alert cron about).
    assert second.returncode == 0, second.stdout + second.stderr
    assert "sync: skipped" in second.stdout and "another sync is already running" in second.stdout
    assert second_took < 30
    runs = job_runs(engine)
    assert sorted((r["job"], r["trigger"], r["status"]) for r in runs) == [
        ("sync", "cron", "ok"),
        ("sync", "cron", "skipped"),
    ]
    with engine.connect() as conn:
        sync_runs = conn.execute(text("SELECT status FROM sync_runs")).scalars().all()
        assert sync_runs == ["ok"]  # the refused one never started a run
        assert conn.execute(text("SELECT count(*) FROM locks")).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM customers")).scalar_one() == 40
    engine.dispose()
