"""`etl daemon` in a subprocess on a fast schedule: failures recorded, never fatal; SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from etl.db.engine import make_engine
from tests.ops.helpers import ETL, etl_env, job_runs, json_lines, refusing_stripe, wait_until


@contextmanager
def _daemon(
    tmp_path: Path, env: dict[str, str], *args: str
) -> Iterator[tuple[subprocess.Popen, Path]]:
    """`etl daemon` with its output in a file; killed on the way out if a test left it running."""
    log_path = tmp_path / "daemon.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [*ETL, "daemon", *args], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        yield proc, log_path
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_daemon_survives_failing_jobs_records_every_run_and_stops_on_sigterm(
    db_url: str, tmp_path: Path
) -> None:
    engine = make_engine(db_url)
    with refusing_stripe() as base:
        env = etl_env(
            tmp_path,
            db_url,
            STRIPE_API_KEY="sk_test_daemon",
            STRIPE_API_BASE=base,
            ETL_SCHEDULE_SECONDS="1",
            ETL_JOB_RETRIES="1",
            ETL_JOB_RETRY_WAIT="0.05",
            ETL_SHUTDOWN_GRACE="10",
        )
        with _daemon(tmp_path, env) as (proc, log_path):

            def enough() -> bool:
                assert proc.poll() is None, log_path.read_text()
                runs = job_runs(engine)
                failed_syncs = [r for r in runs if r["job"] == "sync" and r["status"] == "failed"]
                ok_recomputes = [r for r in runs if r["job"] == "recompute" and r["status"] == "ok"]
                ok_prunes = [r for r in runs if r["job"] == "prune" and r["status"] == "ok"]
                return len(failed_syncs) >= 2 and len(ok_recomputes) >= 2 and len(ok_prunes) >= 1

            wait_until(enough, 90, "two failed syncs, two recomputes and a prune")
            # The failing job did not bring the daemon down: it is still scheduling.
            assert proc.poll() is None
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    output = log_path.read_text()
    assert proc.returncode == 0, output
    lines = json_lines(output)
    assert lines, output
    # Nothing but structured lines (APScheduler's own warnings are bridged into them).
    assert all(line.startswith("{") for line in output.splitlines() if line.strip()), output
    assert lines[-1]["event"] == "daemon_stopped" and lines[-1]["clean"] is True
    assert any(line["event"] == "daemon_stopping" and line["signal"] == "SIGTERM" for line in lines)
    # Each failed sync was retried once (tenacity) before being recorded as failed.
    retries = [line for line in lines if line["event"] == "job_retry" and line["job"] == "sync"]
    assert retries

    runs = job_runs(engine)
    assert runs and all(r["trigger"] == "daemon" for r in runs)
    assert all(r["status"] in ("ok", "failed") for r in runs), runs
    assert all(r["finished_at"] is not None and r["finished_at"] >= r["started_at"] for r in runs)
    syncs = [r for r in runs if r["job"] == "sync"]
    assert all(r["status"] == "failed" for r in syncs)
    assert all("refuses every request" in r["error"] for r in syncs)
    # A recompute ran after each sync (the schedule's "sync, then recompute").
    sync_ids = [r["id"] for r in syncs]
    recompute_ids = [r["id"] for r in runs if r["job"] == "recompute"]
    assert all(any(rid > sid for rid in recompute_ids) for sid in sync_ids[:-1])
    # The summary log line of each run carries the job and its outcome.
    summaries = [line for line in lines if line["event"] == "job_run"]
    assert {(s["job"], s["status"]) for s in summaries} >= {
        ("sync", "failed"),
        ("recompute", "ok"),
        ("prune", "ok"),
    }

    # `etl status` reflects the runs.
    st = subprocess.run(
        [*ETL, "status", "--json"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert st.returncode == 0, st.stderr
    status = json.loads(st.stdout)
    assert status["jobs"]["sync"]["last"]["status"] == "failed"
    assert status["jobs"]["sync"]["last"]["id"] == syncs[-1]["id"]
    assert "refuses every request" in status["jobs"]["sync"]["last"]["error"]
    assert "last_ok" not in status["jobs"]["sync"]
    assert status["last_successful_sync"] is None
    assert status["jobs"]["recompute"]["last"]["status"] == "ok"
    assert status["last_successful_recompute"] is not None
    assert status["jobs"]["prune"]["last_ok"]["counts"]["raw_versions_deleted"] == 0
    human = subprocess.run([*ETL, "status"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert human.returncode == 0, human.stderr
    assert "failed" in human.stdout and "recompute" in human.stdout
    engine.dispose()


def test_sigterm_during_a_hung_job_abandons_it_after_the_grace_time(
    tmp_path: Path,
) -> None:
    """A sync stuck on a silent Stripe does not keep the daemon from stopping."""
    db_url = f"sqlite:///{tmp_path / 'etl.db'}"
    engine = make_engine(db_url)
    with refusing_stripe(delay_s=60) as base:
        env = etl_env(
            tmp_path,
            db_url,
            STRIPE_API_KEY="sk_test_daemon",
            STRIPE_API_BASE=base,
            ETL_SHUTDOWN_GRACE="1",
        )
        with _daemon(tmp_path, env) as (proc, log_path):

            def sync_running() -> bool:
                assert proc.poll() is None, log_path.read_text()
                try:  # the daemon creates the schema of a fresh database itself
                    return any(r["job"] == "sync" for r in job_runs(engine))
                except OperationalError:
                    return False

            wait_until(sync_running, 60, "the initial sync to start")
            time.sleep(0.5)
            t0 = time.monotonic()
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=20)
            stopped_in = time.monotonic() - t0
    output = log_path.read_text()
    assert proc.returncode == 0, output
    assert stopped_in < 10, output
    last = json_lines(output)[-1]
    assert last["event"] == "daemon_stopped"
    assert last["clean"] is False and last["abandoned"] == "sync"
    engine.dispose()


def test_daemon_serve_runs_the_api_in_the_same_process(tmp_path: Path) -> None:
    import socket

    import httpx

    db_url = f"sqlite:///{tmp_path / 'etl.db'}"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = etl_env(
        tmp_path,
        db_url,
        ETL_SCHEDULE_SECONDS="1",
        ETL_JOB_RETRIES="0",
        ETL_SHUTDOWN_GRACE="5",
    )  # no STRIPE_API_KEY: every sync fails at once with a clear error, recompute still runs
    base = f"http://127.0.0.1:{port}"
    with _daemon(tmp_path, env, "--serve", "--port", str(port)) as (proc, log_path):

        def recomputed() -> bool:
            assert proc.poll() is None, log_path.read_text()
            try:
                body = httpx.get(f"{base}/healthz", timeout=2).json()
            except httpx.TransportError:
                return False
            return body["last_recompute_at"] is not None

        wait_until(recomputed, 60, "/healthz to report a recompute")
        assert httpx.get(f"{base}/v2/mrr").status_code == 401  # the whole API, with keys
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    output = log_path.read_text()
    assert proc.returncode == 0, output
    lines = json_lines(output)
    assert lines[-1]["event"] == "daemon_stopped" and lines[-1]["clean"] is True
    failed = [x for x in lines if x["event"] == "job_run" and x["job"] == "sync"]
    assert failed and failed[0]["status"] == "failed"
    assert (
        failed[0]["error"]
        == "setting STRIPE_API_KEY: is not set (a secret sk_… or restricted rk_… key)"
    )
    assert failed[0]["attempts"] == 1  # a configuration error is not retried
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{base}/healthz", timeout=2)
