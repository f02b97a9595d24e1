"""Writes through the API reach the served metrics within seconds: a coalescing recompute.

Each write, after its commit, asks for a recompute and gets a ticket; one background
thread runs the incremental recompute (over the customers marked dirty) and serves
every ticket issued before that run began, so a burst of writes costs one or two
runs. Handlers wait for their ticket (bounded) before answering, so a GET right after
a successful write already shows its effect.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from etl.config import Settings
from etl.logs import get_logger

log = get_logger("etl.api.refresh")


def _default_recompute(engine: Engine, settings: Settings) -> Any:
    # Lazy: the metrics engine loads with the first recompute, not with the app.
    from etl.metrics.recompute import recompute  # noqa: PLC0415

    return recompute(engine, settings, trigger="api")


class MetricsRefresher:
    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        on_done: Callable[[], None] = lambda: None,
        run: Callable[[Engine, Settings], Any] = _default_recompute,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.on_done = on_done
        self._run_recompute = run
        self._cond = threading.Condition()
        self._requested = 0
        self._done = 0
        self._stopped = False
        self._thread: threading.Thread | None = None
        self.runs = 0
        self.last_error: str | None = None

    def request(self) -> int:
        with self._cond:
            if self._thread is None or not self._thread.is_alive():
                self._stopped = False
                self._thread = threading.Thread(
                    target=self._loop, name="etl-api-recompute", daemon=True
                )
                self._thread.start()
            self._requested += 1
            self._cond.notify_all()
            return self._requested

    def wait(self, ticket: int, timeout: float = 30.0) -> bool:
        """True once a recompute that began after the ticket was issued has finished."""
        with self._cond:
            return self._cond.wait_for(lambda: self._done >= ticket or self._stopped, timeout)

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._requested > self._done or self._stopped)
                if self._stopped:
                    return
                target = self._requested
            started = time.perf_counter()
            try:
                self._run_recompute(self.engine, self.settings)
                self.last_error = None
            except Exception as exc:
                # The write is committed; the next scheduled recompute will catch up.
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("api.recompute_failed")
            finally:
                self.runs += 1
                self.on_done()
                log.info(
                    "api.recompute",
                    tickets=target,
                    duration_ms=round((time.perf_counter() - started) * 1000, 1),
                )
                with self._cond:
                    self._done = target
                    self._cond.notify_all()
