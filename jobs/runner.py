"""Running a job: recorded in job_runs, retried with tenacity, never raising.

Every run, whoever starts it (the daemon, a cron line through `etl run-job`, the demo),
goes through `run_job`: a `job_runs` row is written when it starts and completed when it
ends (status, counts, error). A failing job is retried with exponential backoff
(ETL_JOB_RETRIES, ETL_JOB_RETRY_WAIT); if it still fails, the failure is recorded and the
caller carries on — the daemon simply waits for the job's next slot. Errors that waiting
cannot fix (bad configuration, a rejected API key) are not retried.
"""

from __future__ import annotations

import importlib
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, update
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_when_event_set,
    wait_exponential,
)

from etl.clock import utcnow
from etl.db import tables
from etl.errors import EtlError, UsageError
from etl.logs import get_logger, redact_value

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from etl.bootstrap import Container
    from jobs.schedule import Entry

log = get_logger("etl.jobs")

# Job name -> module under jobs/ exposing `run(container, ctx) -> Mapping[str, Any]`.
JOB_MODULES: dict[str, str] = {
    "sync": "jobs.sync",
    "recompute": "jobs.recompute",
    "reconcile": "jobs.reconcile",
    "prune": "jobs.prune",
}

MAX_ERROR_CHARS = 2000


class JobSkipped(Exception):  # noqa: N818 - not an error: recorded as `skipped`
    """Raised by a job that declines to run, e.g. because another sync holds the lock.

    Recorded with status `skipped`; not retried, not a failure.
    """


@dataclass
class JobContext:
    """What a job gets besides the container."""

    trigger: str = "cli"
    stop: threading.Event = field(default_factory=threading.Event)
    progress: bool = False
    # Extra keyword arguments for the job (e.g. full=True for a sync).
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class JobResult:
    job: str
    status: str  # ok, failed or skipped
    run_id: int | None
    counts: dict[str, Any]
    error: str | None
    attempts: int
    duration_s: float

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "skipped")


def job_module(name: str) -> Any:
    """The module of a job: `run(container, ctx)`, and `RECORDS_ITSELF = True` for a job
    whose own code writes its job_runs row (the recompute does, in the transaction of its
    results; its own state is in `recompute_state`).
    """
    if name not in JOB_MODULES:
        known = ", ".join(sorted(JOB_MODULES))
        raise UsageError(f"unknown job {name!r} (known jobs: {known})")
    return importlib.import_module(JOB_MODULES[name])


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, JobSkipped | UsageError):
        return False
    # A rejected key or missing permission stays rejected: retrying only adds noise.
    import stripe

    for e in (exc, exc.__cause__):
        if isinstance(e, stripe.AuthenticationError | stripe.PermissionError):
            return False
    return not getattr(exc, "permanent", False)


def describe_error(exc: BaseException) -> str:
    """Our own errors carry a message meant for the user; others get their type too."""
    if isinstance(exc, EtlError | JobSkipped) and str(exc):
        text = str(exc)
    else:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return str(redact_value(text))[:MAX_ERROR_CHARS]


def counts_of(report: Any) -> dict[str, Any]:
    """A JSON-able dict from whatever a job returns (dict, dataclass, object, None)."""
    if report is None:
        return {}
    if is_dataclass(report) and not isinstance(report, type):
        data: Any = asdict(report)
    elif isinstance(report, Mapping):
        data = dict(report)
    elif hasattr(report, "model_dump"):
        data = report.model_dump()
    elif hasattr(report, "__dict__"):
        data = {k: v for k, v in vars(report).items() if not k.startswith("_")}
    else:
        data = {"result": report}
    plain: dict[str, Any] = json.loads(json.dumps(data, default=str))
    return plain


def _start_row(engine: Engine, job: str, trigger: str, started: datetime) -> int | None:
    try:
        with engine.begin() as conn:
            res = conn.execute(
                insert(tables.job_runs).values(
                    job=job, trigger=trigger, status="running", started_at=started
                )
            )
            pk = res.inserted_primary_key
            return int(pk[0]) if pk else None
    except Exception as exc:  # noqa: BLE001 - the job runner's boundary: recording never fails a job
        log.warning("job_run_not_recorded", job=job, error=describe_error(exc))
        return None


def _finish_row(engine: Engine, run_id: int | None, result: JobResult, finished: datetime) -> None:
    if run_id is None:
        return
    table = tables.job_runs
    try:
        with engine.begin() as conn:
            conn.execute(
                update(table)
                .where(table.c.id == run_id)
                .values(
                    status=result.status,
                    finished_at=finished,
                    counts_json=json.dumps(result.counts, sort_keys=True)
                    if result.counts
                    else None,
                    error=result.error,
                )
            )
    except Exception as exc:  # noqa: BLE001 - the job runner's boundary, as in _start_row
        log.warning(
            "job_run_not_recorded", job=result.job, run_id=run_id, error=describe_error(exc)
        )


def _interruptible_sleep(stop: threading.Event) -> Callable[[float], None]:
    def sleep(seconds: float) -> None:
        stop.wait(seconds)

    return sleep


def _retrying(
    name: str, run_id: int | None, ctx: JobContext, retries: int, wait: float
) -> Retrying:
    """Up to `retries` more attempts with exponential waits, each retry logged."""

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning(
            "job_retry",
            job=name,
            run_id=run_id,
            attempt=state.attempt_number,
            of=retries + 1,
            wait_s=round(state.next_action.sleep, 2) if state.next_action else None,
            error=describe_error(exc) if exc else None,
        )

    return Retrying(
        stop=stop_after_attempt(retries + 1) | stop_when_event_set(ctx.stop),
        wait=wait_exponential(multiplier=wait, min=wait, max=max(wait, 1) * 16),
        retry=retry_if_exception(_retryable),
        # Waiting between attempts ends at once when the daemon is asked to stop.
        sleep=_interruptible_sleep(ctx.stop),
        before_sleep=before_sleep,
        reraise=True,
    )


def _raise_if_stopped(ctx: JobContext, last_exc: Exception | None) -> None:
    """Asked to stop while waiting to retry: no new attempt, the last error stands."""
    if ctx.stop.is_set() and last_exc is not None:
        raise last_exc


def _attempts(
    retrying: Retrying, fn: Callable[[], Any], ctx: JobContext
) -> tuple[str, dict[str, Any], str | None, int]:
    """(status, counts, error, attempts) of running `fn` under `retrying`."""
    attempts = 0
    last_exc: Exception | None = None
    counts: dict[str, Any] = {}
    try:
        for attempt in retrying:
            with attempt:
                if attempts:
                    _raise_if_stopped(ctx, last_exc)
                attempts += 1
                try:
                    counts = counts_of(fn())
                except Exception as exc:
                    last_exc = exc
                    raise
    except JobSkipped as exc:
        return "skipped", counts, describe_error(exc), attempts
    except Exception as exc:  # noqa: BLE001 - the job runner's boundary: a failed job is a result
        return "failed", counts, describe_error(exc), attempts
    return "ok", counts, None, attempts


def run_job(
    container: Container,
    name: str,
    ctx: JobContext | None = None,
    *,
    retries: int | None = None,
    retry_wait: float | None = None,
) -> JobResult:
    """Run one job with retries and record it. Never raises for a failure of the job."""
    ctx = ctx or JobContext()
    module = job_module(name)
    records_itself = bool(getattr(module, "RECORDS_ITSELF", False))
    settings = container.settings
    retries = settings.job_retries if retries is None else retries
    retry_wait = settings.job_retry_wait if retry_wait is None else retry_wait
    t0 = time.monotonic()
    run_id = None if records_itself else _start_row(container.engine, name, ctx.trigger, utcnow())
    retrying = _retrying(name, run_id, ctx, retries, retry_wait)
    status, counts, error, attempts = _attempts(retrying, lambda: module.run(container, ctx), ctx)
    if records_itself:
        run_id = counts.get("job_run_id")
    result = JobResult(
        job=name,
        status=status,
        run_id=run_id,
        counts=counts,
        error=error,
        attempts=attempts,
        duration_s=round(time.monotonic() - t0, 3),
    )
    if not records_itself:
        _finish_row(container.engine, run_id, result, utcnow())
    # The one summary line per job run.
    (log.info if result.status != "failed" else log.error)(
        "job_run",
        job=name,
        run_id=run_id,
        trigger=ctx.trigger,
        status=result.status,
        attempts=attempts,
        duration_s=result.duration_s,
        error=error,
        **{f"n_{k}": v for k, v in counts.items() if isinstance(v, int | float)},
    )
    return result


def run_entry(container: Container, entry: Entry, ctx: JobContext | None = None) -> list[JobResult]:
    """Run the jobs of one schedule entry in order (e.g. sync, then recompute).

    A failed step does not stop the ones after it: a recompute after a failed sync still
    moves the metrics to "now" on what was loaded (every sync page is committed whole).
    """
    ctx = ctx or JobContext()
    results = []
    for name in entry.jobs:
        if ctx.stop.is_set():
            break
        results.append(run_job(container, name, ctx))
    return results
