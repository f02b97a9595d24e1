"""What the routes share, built once per app from the composition root."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from etl.api.auth import KeyStore
from etl.api.http import ResponseCache
from etl.api.refresh import MetricsRefresher
from etl.clock import utcnow
from etl.config import Settings


@dataclass
class ApiState:
    settings: Settings
    engine: Engine
    keys: KeyStore
    cache: ResponseCache
    refresher: MetricsRefresher
    clock: Callable[[], datetime] = utcnow
    refresh_timeout: float = 30.0

    async def after_write(self, *, recompute: bool) -> None:
        """Invalidate cached reads; with `recompute`, wait (bounded) for fresh metrics."""
        self.cache.invalidate()
        if recompute:
            ticket = self.refresher.request()
            await run_in_threadpool(self.refresher.wait, ticket, self.refresh_timeout)
