"""The sync: one run, under the sync lock, chaining the full load and the incremental.

Full load (`full`, planned by `plan`): the resources are cut into work units, fetched
concurrently and written by one thread with their cursors, so that a crash loses and
duplicates nothing. Before its first page the newest event id is recorded; once every
unit is done, the events after it are applied (`incremental`), so that changes made
during the load are not missed.

Incremental: the events after the stored cursors; a cursor older than Stripe's 30 days
of events falls back to a full load. Each run is recorded in `sync_runs` (`runs`) and
summed up in a `SyncSummary`; Stripe's refusals become errors a user can act on.
"""

from __future__ import annotations

import time

import stripe
from sqlalchemy import Engine

from etl.config import Settings
from etl.errors import EtlError
from etl.extract import fetch as f
from etl.extract.ratelimit import TokenBucket, default_rate
from etl.load.derive import DeriveHook
from etl.logs import get_logger
from etl.sync.context import SyncContext
from etl.sync.cursors import PLAN_ROW, cursor_state, load_cursors
from etl.sync.full import ANALYZE_FIRST_AT_PAGES, FullLoad
from etl.sync.incremental import Incremental
from etl.sync.lock import sync_lock
from etl.sync.options import SyncOptions, SyncSummary, default_processes
from etl.sync.plan import backfill_prefix
from etl.sync.progress import Progress
from etl.sync.runs import finish_run, forget_run_if_empty, start_run

log = get_logger("etl.sync")

__all__ = [
    "StripeAuthError",
    "SyncOptions",
    "SyncRunner",
    "SyncSummary",
    "default_processes",
    "run_sync",
]


class StripeAuthError(EtlError):
    """The key was refused: nothing can be synced."""


class SyncRunner:
    def __init__(
        self,
        engine: Engine,
        client: stripe.StripeClient,
        settings: Settings,
        options: SyncOptions | None = None,
        *,
        derive: DeriveHook | None = None,
    ) -> None:
        opts = options or SyncOptions()
        if opts.unlimited:
            rate: float | None = None
        elif opts.rate_limit is not None:
            rate = opts.rate_limit
        else:
            rate = default_rate(live=settings.is_live_key, override=settings.stripe_rate_limit)
        self.ctx = SyncContext(
            engine=engine,
            settings=settings,
            options=opts,
            api=f.StripeApi(client, TokenBucket(rate)),
            summary=SyncSummary(run_id=None, kind="incremental"),
            progress=Progress(opts.progress),
            derive=derive,
        )
        # (The threshold is read here, when the run is set up, so a test can lower it.)
        self.full_load = FullLoad(self.ctx, analyze_first_at=ANALYZE_FIRST_AT_PAGES)
        self.incremental = Incremental(self.ctx)

    @property
    def summary(self) -> SyncSummary:
        return self.ctx.summary

    def run(self) -> SyncSummary:
        ctx = self.ctx
        with sync_lock(ctx.engine, wait_s=ctx.options.lock_wait_s):
            ctx.summary.run_id = start_run(
                ctx.engine, "backfill" if ctx.options.backfill else "incremental"
            )
            self._run_recorded()
        return ctx.summary

    def _run_recorded(self) -> None:
        """The run, with its outcome in its `sync_runs` row and Stripe's refusals turned
        into errors that say what to do."""
        ctx = self.ctx
        started = time.monotonic()
        try:
            with ctx.progress:
                self._run()
        except stripe.AuthenticationError as exc:
            # The very first request fails with a wrong key: leave no trace at all.
            forget_run_if_empty(ctx)
            raise StripeAuthError(
                "Stripe refused the API key (authentication failed): check STRIPE_API_KEY"
            ) from exc
        except BaseException as exc:
            ctx.summary.duration_s = time.monotonic() - started
            error = self._failed(exc)
            if error is exc:
                raise
            raise error from exc
        ctx.summary.duration_s = time.monotonic() - started
        finish_run(ctx, "ok")

    def _failed(self, exc: BaseException) -> BaseException:
        """Record the run failed; the error to raise in place of `exc` (or `exc`)."""
        ctx = self.ctx
        if isinstance(exc, stripe.PermissionError):
            finish_run(ctx, "failed", "permission denied")
            return StripeAuthError(
                f"the Stripe key lacks a permission the sync needs: {exc.user_message or exc}"
            )
        if isinstance(exc, stripe.APIConnectionError):
            finish_run(ctx, "failed", "Stripe unreachable")
            return EtlError(
                f"cannot reach Stripe at {ctx.settings.stripe_api_base or 'api.stripe.com'} "
                "(network error after retries); nothing is lost, run the sync again later"
            )
        if isinstance(exc, stripe.StripeError):
            msg = f"Stripe answered {getattr(exc, 'http_status', '?')}: {exc.user_message or exc}"
            finish_run(ctx, "failed", msg[:2000])
            return EtlError(msg.splitlines()[0][:500])
        finish_run(ctx, "failed", f"{type(exc).__name__}: {exc}"[:2000])
        return exc

    def _run(self) -> None:
        opts, summary = self.ctx.options, self.ctx.summary
        if opts.backfill:
            summary.kind = "backfill"
            self.full_load.run(prefix=backfill_prefix(opts), backfill=True)
            return
        with self.ctx.engine.connect() as conn:
            cursors = load_cursors(conn)
        in_progress = PLAN_ROW in cursors
        incremental_ready = all(
            cursors.get(name) is not None
            and cursors[name].phase == "incremental"
            and cursor_state(cursors[name]).get("available", True)
            for name in f.EVENT_STREAMS
        )
        if opts.full or in_progress or not incremental_ready:
            summary.kind = "full"
            self.full_load.run(
                prefix="full:", backfill=False, restart=opts.full and not in_progress
            )
            self.incremental.run()  # the events that happened during the load
            return
        summary.kind = "incremental"
        if not self.incremental.run():
            log.warning(
                "events_cursor_too_old",
                message="the events cursor is older than Stripe's 30 days of events: "
                "falling back to a full load",
            )
            summary.kind = "full"
            summary.fell_back_to_full = True
            self.full_load.run(prefix="full:", backfill=False, restart=True)
            self.incremental.run()


def run_sync(
    engine: Engine,
    client: stripe.StripeClient,
    settings: Settings,
    options: SyncOptions | None = None,
    *,
    derive: DeriveHook | None = None,
) -> SyncSummary:
    """One sync run: the load and the events; `derive` refreshes what depends on invoices."""
    return SyncRunner(engine, client, settings, options, derive=derive).run()
