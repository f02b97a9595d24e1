"""jobs.runner: every run recorded, failures retried then recorded, never raised."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest

from etl.bootstrap import Container, bootstrap
from etl.config import ConfigError, load_settings
from jobs import runner
from jobs.runner import JobContext, JobSkipped, run_job
from tests.ops.helpers import job_runs


@pytest.fixture
def container(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Container]:
    monkeypatch.setitem(runner.JOB_MODULES, "flaky", "tests.ops.fake_jobs")
    c = bootstrap(
        load_settings(database_url=db_url, job_retries=2, job_retry_wait=0.01),
        configure_logs=False,
    )
    yield c
    c.close()


def test_a_job_that_recovers_within_its_retries_is_ok(container: Container) -> None:
    ctx = JobContext(trigger="cron", options={"failures": 2})
    result = run_job(container, "flaky", ctx)
    assert (result.status, result.attempts, result.error) == ("ok", 3, None)
    assert result.counts == {"rows": 7, "calls": 3}
    [row] = job_runs(container.engine)
    assert (row["job"], row["trigger"], row["status"]) == ("flaky", "cron", "ok")
    assert json.loads(row["counts_json"]) == {"calls": 3, "rows": 7}
    assert row["error"] is None and row["finished_at"] >= row["started_at"]
    assert row["id"] == result.run_id


def test_a_job_failing_every_attempt_is_recorded_and_not_raised(container: Container) -> None:
    ctx = JobContext(options={"failures": 99, "exc": ValueError("stripe is down")})
    result = run_job(container, "flaky", ctx)
    assert (result.status, result.attempts) == ("failed", 3)  # 1 + ETL_JOB_RETRIES
    assert result.error == "ValueError: stripe is down"
    [row] = job_runs(container.engine)
    assert (row["status"], row["error"]) == ("failed", "ValueError: stripe is down")
    assert row["counts_json"] is None
    # The next run of the same job is a new row: the failure did not stick.
    again = run_job(container, "flaky", JobContext(options={"failures": 0}))
    assert again.status == "ok"
    assert [r["status"] for r in job_runs(container.engine)] == ["failed", "ok"]


def test_configuration_errors_are_not_retried(container: Container) -> None:
    ctx = JobContext(options={"failures": 99, "exc": ConfigError("STRIPE_API_KEY", "is not set")})
    result = run_job(container, "flaky", ctx)
    assert (result.status, result.attempts) == ("failed", 1)
    assert result.error == "setting STRIPE_API_KEY: is not set"


def test_a_skipped_job_is_recorded_as_skipped(container: Container) -> None:
    ctx = JobContext(options={"failures": 99, "exc": JobSkipped("another sync is running")})
    result = run_job(container, "flaky", ctx)
    assert (result.status, result.attempts, result.ok) == ("skipped", 1, True)
    [row] = job_runs(container.engine)
    assert (row["status"], row["error"]) == ("skipped", "another sync is running")


def test_secrets_never_reach_the_recorded_error(container: Container) -> None:
    exc = RuntimeError("request with sk_live_abcdefghijklmnop failed")
    result = run_job(container, "flaky", JobContext(options={"failures": 99, "exc": exc}))
    assert "sk_live_abcdefghijklmnop" not in (result.error or "")
    assert "sk_live_abcdefghijklmnop" not in str(job_runs(container.engine))


def test_a_stop_request_ends_the_retry_wait_at_once(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(runner.JOB_MODULES, "flaky", "tests.ops.fake_jobs")
    c = bootstrap(
        load_settings(database_url=db_url, job_retries=5, job_retry_wait=60),
        configure_logs=False,
    )
    ctx = JobContext(options={"failures": 99})
    threading.Timer(0.5, ctx.stop.set).start()
    t0 = time.monotonic()
    result = run_job(c, "flaky", ctx)
    assert time.monotonic() - t0 < 5
    assert (result.status, result.attempts) == ("failed", 1)
    c.close()


def test_unknown_job_is_a_usage_error(container: Container) -> None:
    from etl.errors import UsageError

    with pytest.raises(UsageError, match="unknown job 'nope'"):
        run_job(container, "nope")
