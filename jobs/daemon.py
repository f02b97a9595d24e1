"""`etl daemon`: the schedule run by APScheduler's BlockingScheduler, optionally with the API.

- One worker thread: jobs run one at a time (a sync, its recompute, the nightly
  reconciliation never overlap in one daemon; the sync lock covers other processes).
- `max_instances=1`, `coalesce=True` and a misfire grace time: a slot missed while a long
  job ran (or the machine slept) runs once, late, instead of piling up.
- Every run goes through `jobs.runner.run_job`: recorded in job_runs, retried, never
  raising — a failing job waits for its next slot and the daemon keeps going.
- SIGTERM/SIGINT: no new job starts; the running job is told to stop (between pages for a
  sync) and given ETL_SHUTDOWN_GRACE seconds. A job still running after that is abandoned:
  its open page transaction rolls back when the process exits, and the next run resumes
  from the last committed page. The last log line is `daemon_stopped`; the exit code 0.
- `--serve`: the HTTP API runs in a thread of the same process (uvicorn).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from etl.logs import get_logger
from jobs.runner import JobContext, run_entry
from jobs.schedule import Entry, schedule, trigger_for

if TYPE_CHECKING:
    from etl.bootstrap import Container

log = get_logger("etl.daemon")

MISFIRE_GRACE_S = 900


class _SchedulerLogBridge(logging.Handler):
    """APScheduler logs through the standard library; its warnings (a slot missed, a run
    skipped because the previous one still runs) join our structured log instead of
    reaching stderr as unformatted lines."""

    def emit(self, record: logging.LogRecord) -> None:
        level = "warning" if record.levelno >= logging.WARNING else "info"
        getattr(log, level)("scheduler", message=record.getMessage())


def _bridge_scheduler_logs() -> None:
    logger = logging.getLogger("apscheduler")
    if not any(isinstance(h, _SchedulerLogBridge) for h in logger.handlers):
        logger.addHandler(_SchedulerLogBridge())
    logger.setLevel(logging.WARNING)
    logger.propagate = False


class Daemon:
    def __init__(
        self,
        container: Container,
        *,
        serve: bool = False,
        host: str = "127.0.0.1",
        port: int = 8000,
        initial_sync: bool = True,
    ) -> None:
        self.container = container
        self.serve = serve
        self.host = host
        self.port = port
        self.initial_sync = initial_sync
        self.stop = threading.Event()
        self.entries = schedule(container.settings)  # validates the cron settings first
        self._running: str | None = None
        self._idle = threading.Event()
        self._idle.set()
        self._api: Any = None
        self._scheduler: Any = None
        self._loop_done = threading.Event()

    # ------------------------------------------------------------------ jobs

    def _run_entry(self, entry: Entry) -> None:
        if self.stop.is_set():
            return
        self._idle.clear()
        self._running = entry.name
        try:
            run_entry(self.container, entry, JobContext(trigger="daemon", stop=self.stop))
        except BaseException as exc:  # run_entry does not raise; this is the last guard
            log.exception("job_crashed", entry=entry.name, error=f"{type(exc).__name__}: {exc}")
        finally:
            self._running = None
            self._idle.set()

    # ------------------------------------------------------------------ signals

    def _on_signal(self, signum: int, _frame: Any) -> None:
        if not self.stop.is_set():
            log.info("daemon_stopping", signal=signal.Signals(signum).name, running=self._running)
        self.stop.set()

    def _watch_stop(self) -> None:
        # Shutdown is requested from a thread, not from the signal handler: the handler
        # may interrupt the scheduler's main loop while it holds its own locks.
        # A signal may also come while the scheduler is still starting: keep asking
        # until its loop has ended.
        self.stop.wait()
        while not self._loop_done.is_set():
            scheduler = self._scheduler
            if scheduler is not None and scheduler.running:
                with contextlib.suppress(Exception):  # stopped in the meantime
                    scheduler.shutdown(wait=False)
            self._loop_done.wait(0.1)

    # ------------------------------------------------------------------ API

    def _start_api(self) -> None:
        from etl.api.serve import ApiThread, build_app, is_loopback

        # As `etl serve` decides: HTTPS required when binding a non-loopback address,
        # unless ETL_REQUIRE_HTTPS says otherwise (a TLS proxy sets X-Forwarded-Proto).
        require_https = self.container.settings.require_https
        if require_https is None:
            require_https = not is_loopback(self.host)
        app = build_app(self.container, require_https=require_https)
        self._api = ApiThread(app, self.host, self.port).start()
        log.info("api_serving", url=f"http://{self.host}:{self._api.port}")

    def _stop_api(self) -> None:
        if self._api is not None:
            self._api.stop()
            self._api = None

    # ------------------------------------------------------------------ main

    def run(self) -> int:
        settings = self.container.settings
        _bridge_scheduler_logs()
        scheduler = self._scheduler = self._build_scheduler()
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        watcher = threading.Thread(target=self._watch_stop, name="stop-watcher", daemon=True)
        watcher.start()
        try:
            if self.serve:
                self._start_api()
            log.info(
                "daemon_started",
                pid=os.getpid(),
                serve=self.serve,
                schedule={
                    e.name: (
                        f"every {settings.schedule_seconds}s"
                        if settings.schedule_seconds
                        else e.cron
                    )
                    for e in self.entries
                },
                jobs={e.name: list(e.jobs) for e in self.entries},
            )
            if not self.stop.is_set():
                scheduler.start()
        except BaseException:
            self.stop.set()
            self._stop_api()
            raise
        finally:
            self._loop_done.set()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return self._finish()

    def _build_scheduler(self) -> Any:
        """One worker thread, one instance per entry, missed slots coalesced."""
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.blocking import BlockingScheduler

        scheduler = BlockingScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            job_defaults={
                "max_instances": 1,
                "coalesce": True,
                "misfire_grace_time": MISFIRE_GRACE_S,
            },
        )
        for entry in self.entries:
            kwargs: dict[str, Any] = {}
            if entry.name == "sync" and self.initial_sync:
                # A fresh deployment loads at once instead of waiting for the first slot.
                kwargs["next_run_time"] = datetime.now(UTC)
            scheduler.add_job(
                self._run_entry,
                trigger_for(entry, self.container.settings),
                args=[entry],
                id=entry.name,
                name=entry.name,
                **kwargs,
            )
        return scheduler

    def _finish(self) -> int:
        grace = self.container.settings.shutdown_grace
        finished = self._idle.wait(grace)
        self._stop_api()
        if finished:
            log.info("daemon_stopped", clean=True)
            return 0
        # The running job did not reach a safe point in time. Every page it wrote is
        # committed with its cursor; the page in flight rolls back when the process exits.
        log.warning("daemon_stopped", clean=False, abandoned=self._running, grace_s=grace)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
