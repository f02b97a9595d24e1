"""`etl sync` as users run it: wrong key, a second sync, SIGKILL at random moments, localstripe."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import stripe
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from etl.cli import main
from etl.db import tables
from etl.db.engine import make_engine
from etl.sync.lock import SyncLock
from tests.sync.helpers import NORMALIZED, counts, diff, sandbox, snapshot, sync

TABLES = (*NORMALIZED, "raw_objects", "sync_cursors", "sync_runs", "locks")


def _env(monkeypatch: pytest.MonkeyPatch, db_url: str, base: str, key: str) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("STRIPE_API_KEY", key)
    monkeypatch.setenv("STRIPE_API_BASE", base)
    monkeypatch.setenv("ETL_LOG_FORMAT", "json")


def _all_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        # S608: t is a table name of TABLES, never a value.
        return {
            t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()  # noqa: S608
            for t in TABLES
        }


def test_wrong_api_key_exits_1_with_a_clear_line_and_writes_nothing(
    clean_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    db_url: str,
    engine: Engine,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with sandbox(customers=10, months=3, seed=2) as srv:
        assert srv.base_url is not None
        # The sandbox accepts test keys only: a live-mode key is refused with a 401.
        _env(monkeypatch, db_url, srv.base_url, "sk_live_notavalidkey123")
        assert main(["sync", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "etl: error: Stripe refused the API key" in err
    assert "notavalidkey" not in err
    assert set(_all_counts(engine).values()) == {0}


def test_a_second_sync_exits_1_while_one_runs(
    clean_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    db_url: str,
    engine: Engine,
    backend: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    held: SyncLock | None = None
    if backend == "postgresql":
        held = SyncLock(engine)
        held.acquire()  # a session-level advisory lock, as a running sync holds it
    else:
        # A live process on this host holds the lock row (our parent, not us).
        from etl.clock import utcnow

        now = utcnow()
        with engine.begin() as conn:
            conn.execute(
                tables.locks.insert().values(
                    name="sync",
                    holder=f"{socket.gethostname()}:{os.getppid()}",
                    acquired_at=now,
                    heartbeat_at=now,
                )
            )
    try:
        with sandbox(customers=10, months=3, seed=2) as srv:
            assert srv.base_url is not None
            _env(monkeypatch, db_url, srv.base_url, "sk_test_lock")
            assert main(["sync", "--no-progress"]) == 1
            assert srv.stats()["total"] == 0
        assert "another sync is already running" in capsys.readouterr().err
    finally:
        if held is not None:
            held.release()
    assert counts(engine)["customers"] == 0


def test_stale_lock_of_a_dead_process_is_taken_over(sqlite_engine_factory: object) -> None:
    eng = sqlite_engine_factory("stale")  # type: ignore[operator]
    from etl.clock import utcnow

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    now = utcnow()
    with eng.begin() as conn:
        conn.execute(
            tables.locks.insert().values(
                name="sync",
                holder=f"{socket.gethostname()}:{dead.pid}",
                acquired_at=now,
                heartbeat_at=now,
            )
        )
    with sandbox(customers=10, months=3, seed=2) as srv:
        assert sync(eng, srv).status == "ok"


@pytest.mark.slow
def test_sigkill_at_random_moments_then_rerun_gives_identical_tables(
    tmp_path: Path, sqlite_engine_factory: object
) -> None:
    rng = random.Random(20261121)
    reference = sqlite_engine_factory("reference")  # type: ignore[operator]
    with sandbox(customers=40, months=9, seed=11) as srv:
        assert srv.base_url is not None
        sync(reference, srv)
        expected = snapshot(reference)
        kills = 0
        for trial in range(3):
            eng = sqlite_engine_factory(f"killed{trial}")  # type: ignore[operator]
            env = {
                **os.environ,
                "DATABASE_URL": str(eng.url),
                "STRIPE_API_KEY": "sk_test_kill",
                "STRIPE_API_BASE": srv.base_url,
                "ETL_LOG_FORMAT": "json",
            }
            cmd = [
                sys.executable,
                "-m",
                "etl",
                "sync",
                "--no-progress",
                "--no-recompute",
                "--rate-limit",
                "20",
            ]
            killed_after_pages: list[int] = []
            # Kill twice per trial at different moments; on a busy machine a kill can
            # land after the run has finished, so try a few more times before giving up.
            for _attempt in range(6):
                if len(killed_after_pages) >= 2:
                    break
                runs_before = _runs(eng)
                proc = subprocess.Popen(
                    cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
                # Wait until this process has begun its run, then let it go a random while.
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline and proc.poll() is None:
                    if _runs(eng) > runs_before:
                        break
                    time.sleep(0.02)
                time.sleep(rng.uniform(0.0, 0.6))
                if proc.poll() is None:
                    running = _running(eng)
                    os.kill(proc.pid, signal.SIGKILL)
                    if running:
                        killed_after_pages.append(_cursor_rows(eng))
                proc.wait()
            kills += len(killed_after_pages)
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stderr[-2000:]
            assert diff(expected, snapshot(eng)) == {}, (
                f"trial {trial} (killed after {killed_after_pages})"
            )
            with eng.connect() as conn:
                statuses = [
                    r[0] for r in conn.execute(text("SELECT status FROM sync_runs ORDER BY id"))
                ]
            assert statuses[-1] == "ok"
            assert "running" not in statuses
            assert "interrupted" in statuses or not killed_after_pages
    # The kills did land while the sync was running (not after it had finished).
    assert kills >= 3


def _count(eng: Engine, sql: str) -> int:
    """A count while a killed sync may have left no schema or a locked file: 0 then."""
    try:
        with eng.connect() as conn:
            return int(conn.execute(text(sql)).scalar_one())
    except SQLAlchemyError:
        return 0


def _runs(eng: Engine) -> int:
    return _count(eng, "SELECT count(*) FROM sync_runs")


def _running(eng: Engine) -> bool:
    return bool(_count(eng, "SELECT count(*) FROM sync_runs WHERE status = 'running'"))


def _cursor_rows(eng: Engine) -> int:
    return _count(eng, "SELECT count(*) FROM sync_cursors WHERE cursor IS NOT NULL")


# ---------------------------------------------------------------- localstripe


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def localstripe() -> Iterator[str]:
    exe = Path(sys.executable).parent / "localstripe"
    port = _free_port()
    proc = subprocess.Popen(
        [str(exe), "--port", str(port), "--from-scratch"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail("localstripe did not start", pytrace=False)
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_sync_against_localstripe_loads_its_objects(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, localstripe: str, tmp_path: Path
) -> None:
    client = stripe.StripeClient(
        "sk_test_localstripe", base_addresses={"api": localstripe}, max_network_retries=0
    )
    suffix = os.urandom(4).hex()
    product = client.v1.products.create(params={"name": "Pro"})
    plan = client.v1.plans.create(
        params={
            "id": f"pro-monthly-{suffix}",
            "amount": 2500,
            "currency": "usd",
            "interval": "month",
            "product": product.id,
            "nickname": "Pro monthly",
        }
    )
    customers, subs = [], []
    for i in range(3):
        tok = client.v1.tokens.create(
            params={
                "card": {
                    "number": "4242424242424242",
                    "exp_month": 12,
                    "exp_year": 2030,
                    "cvc": "123",
                }
            }
        )
        cus = client.v1.customers.create(
            params={
                "email": f"user{i}-{suffix}@example.com",
                "name": f"User {i}",
                "source": tok.id,
                "address": {"country": "FI", "line1": "Street 1"},
                "metadata": {"extra_id": f"X{i}"},
            }
        )
        customers.append(cus)
        subs.append(
            client.v1.subscriptions.create(
                params={"customer": cus.id, "items": [{"plan": plan.id}]}
            )
        )
    invoices = client.v1.invoices.list(params={"limit": 100}).data

    db = tmp_path / "ls.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_localstripe")
    monkeypatch.setenv("STRIPE_API_BASE", localstripe)
    assert main(["init-db"]) == 0
    assert main(["sync", "--no-progress"]) == 0
    eng = make_engine(f"sqlite:///{db}")
    try:
        with eng.connect() as conn:
            got = {
                r.stripe_id: r
                for r in conn.execute(
                    text("SELECT stripe_id, email, country, extra_id FROM customers")
                )
            }
            for i, cus in enumerate(customers):
                assert got[cus.id].email == f"user{i}-{suffix}@example.com"
                assert (got[cus.id].country, got[cus.id].extra_id) == ("FI", f"X{i}")
            p = conn.execute(
                text("SELECT amount, interval, name FROM plans WHERE id = :i"), {"i": plan.id}
            ).one()
            assert tuple(p) == (2500, "month", "Pro monthly")
            sub_ids = set(conn.scalars(text("SELECT id FROM subscriptions")))
            assert {s.id for s in subs} <= sub_ids
            inv = set(conn.scalars(text("SELECT id FROM invoices")))
            assert invoices and {i.id for i in invoices} <= inv
            assert conn.execute(text("SELECT count(*) FROM invoice_lines")).scalar_one() >= len(
                invoices
            )
        # A second run still works (this Stripe has no event cursors: a full load again).
        assert main(["sync", "--no-progress"]) == 0
    finally:
        eng.dispose()


def test_no_schema_and_unreachable_stripe_are_one_clear_line(
    clean_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = tmp_path / "fresh.db"
    _env(monkeypatch, f"sqlite:///{db}", f"http://127.0.0.1:{_free_port()}", "sk_test_x")
    assert main(["sync", "--no-progress"]) == 1
    assert "run `etl init-db` first" in capsys.readouterr().err
    assert main(["init-db"]) == 0
    capsys.readouterr()
    assert main(["sync", "--no-progress"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("etl: error: cannot reach Stripe at http://127.0.0.1:")
    assert not any("Traceback" in line for line in err)
