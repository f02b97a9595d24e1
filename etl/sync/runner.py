"""The sync: chains fetching and saving, keeps cursors and records runs.

Full load: the resources are cut into work units (big histories into `created`
slices), fetched concurrently by threads that only read Stripe (their pages parsed
and normalized in worker processes once the load is large, see `pipeline`), and
written by this thread a few pages per transaction together with the units' cursors. A crash at any
instant loses nothing and duplicates nothing: the next run resumes each unit after
its last written page. Before the first page, the newest event id is recorded; once
every unit is done, the events after it are applied (incremental), so that changes
made during the load are not missed.

Incremental: the events after the stored cursors (two type-filtered streams), each
object's latest state applied page by page; objects whose payload lacks what the
tables need are fetched again; draft and open invoices are refreshed until final.
"""

from __future__ import annotations

import json
import math
import os
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import stripe
from sqlalchemy import Connection, Engine, delete, select, update

from etl.clock import utcnow
from etl.config import Settings
from etl.db import tables
from etl.db.upsert import upsert_rows
from etl.errors import EtlError
from etl.extract import fetch as f
from etl.extract.client import API_VERSION
from etl.extract.ratelimit import TokenBucket, default_rate
from etl.extract.types import carries_discount_ids
from etl.load.catalogue import refresh_plan_names
from etl.load.derive import DeriveHook
from etl.load.save import link_refunds, save_objects, write_page
from etl.logs import get_logger
from etl.normalize.page import PageResult
from etl.sync.pipeline import FetchedPage, PrepareArgs, Preparer, fetch_prepared_pages
from etl.sync.progress import Progress
from etl.sync.stored import known_discounts, unfilled_customer_stubs, unfinished_invoices

log = get_logger("etl.sync")

T_CURSORS = tables.sync_cursors

EVENTS_RETENTION = timedelta(days=30)
# Stripe's oldest possible object; a lower bound for the search of an account's start.
STRIPE_EPOCH = int(datetime(2010, 1, 1, tzinfo=UTC).timestamp())
PLAN_ROW = "full:plan"
MAX_SLICES = 16
PAGES_PER_SLICE = 25
# Pages written in one transaction at most (those already fetched and waiting).
PAGES_PER_TRANSACTION = 8
# The full-load writer's SQLite page cache (KiB), released when the load ends.
WRITER_CACHE_KB = 65_536
# PostgreSQL: tables analyzed after this many pages of a load, then at 4x, 16x, …
ANALYZE_FIRST_AT_PAGES = 16
ANALYZED_TABLES = (
    "raw_objects",
    "customers",
    "subscriptions",
    "subscription_items",
    "invoices",
    "invoice_lines",
    "invoice_items",
    "discounts",
)
# WAL pages between automatic checkpoints while a full load writes (SQLite: 1,000).
WRITER_CHECKPOINT_PAGES = 16_384


class StripeAuthError(EtlError):
    """The key was refused: nothing can be synced."""


@dataclass
class SyncOptions:
    full: bool = False
    backfill: bool = False
    since: date | None = None
    until: date | None = None
    workers: int = 8
    # Requests per second; None: the setting, else Stripe's default for the key's mode.
    rate_limit: float | None = None
    unlimited: bool = False
    progress: bool | None = None
    lock_wait_s: float = 0.0
    # Worker processes that parse and normalize a full load's pages (0: the fetching
    # threads do it), started once a load has fetched `prepare_after_pages` pages.
    processes: int = field(default_factory=lambda: default_processes())
    prepare_after_pages: int = 40


def default_processes() -> int:
    """Two, or one on a single core: the writer is the bottleneck beyond two, and each
    worker holds ~90 MB (a 10,000-customer load peaks at ~425 MB with two)."""
    return max(1, min(2, os.cpu_count() or 1))


@dataclass
class SyncSummary:
    run_id: int | None
    kind: str
    status: str = "running"
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    objects: int = 0
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    malformed: int = 0
    malformed_ids: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    fell_back_to_full: bool = False
    skipped: list[str] = field(default_factory=list)
    metrics: str = "skipped"
    # Invoices whose rows this run wrote or deleted (not in the summary line).
    touched_invoices: set[str] = field(default_factory=set)

    def as_json(self) -> dict[str, Any]:
        rate = self.requests / self.duration_s if self.duration_s else 0.0
        return {
            "event": "sync_summary",
            "run_id": self.run_id,
            "kind": self.kind,
            "status": self.status,
            "counts": dict(sorted(self.counts.items())),
            "objects": self.objects,
            "requests": self.requests,
            "retries": self.retries,
            "rate_limited": self.rate_limited,
            "malformed": self.malformed,
            "malformed_ids": self.malformed_ids[:50],
            "skipped_resources": self.skipped,
            "fell_back_to_full": self.fell_back_to_full,
            "metrics": self.metrics,
            "duration_s": round(self.duration_s, 3),
            "requests_per_s": round(rate, 2),
        }


@dataclass
class WorkUnit:
    name: str
    spec: f.ResourceSpec
    created: dict[str, int] | None
    cursor: str | None


def _is_auth(exc: BaseException) -> bool:
    return isinstance(exc, stripe.AuthenticationError | stripe.PermissionError)


def _created_of(obj: Mapping[str, Any]) -> int:
    # Invoice items carry `date` where other objects carry `created`.
    return int(obj.get("created", obj.get("date")) or 0)


# ---------------------------------------------------------------- cursors


def _state(row: Any) -> dict[str, Any]:
    return json.loads(row.state_json) if row is not None and row.state_json else {}


def load_cursors(conn: Connection, prefix: str | None = None) -> dict[str, Any]:
    q = select(T_CURSORS)
    if prefix is not None:
        q = q.where(T_CURSORS.c.resource.like(prefix + "%"))
    return {r.resource: r for r in conn.execute(q)}


def save_cursor(
    conn: Connection,
    name: str,
    *,
    cursor: str | None,
    phase: str,
    state: Mapping[str, Any] | None,
    run_id: int | None,
    now: datetime,
) -> None:
    upsert_rows(
        conn,
        T_CURSORS,
        [
            {
                "resource": name,
                "cursor": cursor,
                "phase": phase,
                "state_json": json.dumps(dict(state), sort_keys=True) if state else None,
                "sync_run_id": run_id,
                "updated_at": now,
            }
        ],
    )


# ---------------------------------------------------------------- the runner


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
        self.engine = engine
        self.settings = settings
        self.options = options or SyncOptions()
        opts = self.options
        if opts.unlimited:
            rate: float | None = None
        elif opts.rate_limit is not None:
            rate = opts.rate_limit
        else:
            rate = default_rate(live=settings.is_live_key, override=settings.stripe_rate_limit)
        self.bucket = TokenBucket(rate)
        self.api = f.StripeApi(client, self.bucket)
        self.revenue = derive
        self.summary = SyncSummary(run_id=None, kind="incremental")
        self.progress = Progress(opts.progress)
        self._loading = False
        self._pages_written = 0
        self._analyze_at = ANALYZE_FIRST_AT_PAGES

    # -- run bookkeeping

    def _start_run(self, kind: str) -> int:
        now = utcnow()
        with self.engine.begin() as conn:
            # Runs left "running" by a process that died: the lock is ours now.
            conn.execute(
                update(tables.sync_runs)
                .where(tables.sync_runs.c.status == "running")
                .values(status="interrupted", finished_at=now)
            )
            run_id = conn.execute(  # type: ignore[index]
                tables.sync_runs.insert().values(
                    kind=kind,
                    status="running",
                    started_at=now,
                    objects=0,
                    requests=0,
                    retries=0,
                    malformed=0,
                )
            ).inserted_primary_key[0]
        return int(run_id)

    def _finish_run(self, status: str, error: str | None = None) -> None:
        s = self.summary
        s.status = status
        s.requests = self.api.requests
        s.retries = self.api.retries
        s.rate_limited = self.api.rate_limited
        if s.run_id is None:
            return
        with self.engine.begin() as conn:
            conn.execute(
                update(tables.sync_runs)
                .where(tables.sync_runs.c.id == s.run_id)
                .values(
                    kind=s.kind,
                    status=status,
                    finished_at=utcnow(),
                    objects=s.objects,
                    requests=s.requests,
                    retries=s.retries,
                    malformed=s.malformed,
                    counts_json=json.dumps(dict(sorted(s.counts.items()))),
                    error=error,
                )
            )

    def _forget_run_if_empty(self) -> None:
        if self.summary.run_id is None:
            return
        if self.summary.objects:
            self._finish_run("failed", "authentication failed")
            return
        with self.engine.begin() as conn:
            conn.execute(
                delete(tables.sync_runs).where(tables.sync_runs.c.id == self.summary.run_id)
            )

    # -- entry point

    def run(self) -> SyncSummary:
        from etl.sync.lock import sync_lock

        started = time.monotonic()
        with sync_lock(self.engine, wait_s=self.options.lock_wait_s):
            self.summary.run_id = self._start_run(
                "backfill" if self.options.backfill else "incremental"
            )
            try:
                with self.progress:
                    self._run()
            except stripe.AuthenticationError as exc:
                # The very first request fails with a wrong key: leave no trace at all.
                self._forget_run_if_empty()
                raise StripeAuthError(
                    "Stripe refused the API key (authentication failed): check STRIPE_API_KEY"
                ) from exc
            except stripe.PermissionError as exc:
                self.summary.duration_s = time.monotonic() - started
                self._finish_run("failed", "permission denied")
                raise StripeAuthError(
                    f"the Stripe key lacks a permission the sync needs: {exc.user_message or exc}"
                ) from exc
            except stripe.APIConnectionError as exc:
                self.summary.duration_s = time.monotonic() - started
                self._finish_run("failed", "Stripe unreachable")
                raise EtlError(
                    f"cannot reach Stripe at {self.settings.stripe_api_base or 'api.stripe.com'} "
                    "(network error after retries); nothing is lost, run the sync again later"
                ) from exc
            except stripe.StripeError as exc:
                self.summary.duration_s = time.monotonic() - started
                msg = (
                    f"Stripe answered {getattr(exc, 'http_status', '?')}: {exc.user_message or exc}"
                )
                self._finish_run("failed", msg[:2000])
                raise EtlError(msg.splitlines()[0][:500]) from exc
            except BaseException as exc:
                self.summary.duration_s = time.monotonic() - started
                self._finish_run("failed", f"{type(exc).__name__}: {exc}"[:2000])
                raise
            self.summary.duration_s = time.monotonic() - started
            self._finish_run("ok")
        return self.summary

    def _run(self) -> None:
        opts = self.options
        if opts.backfill:
            self.summary.kind = "backfill"
            self._full_load(prefix=self._backfill_prefix(), backfill=True)
            return
        with self.engine.connect() as conn:
            cursors = load_cursors(conn)
        in_progress = PLAN_ROW in cursors
        incremental_ready = all(
            cursors.get(name) is not None
            and cursors[name].phase == "incremental"
            and _state(cursors[name]).get("available", True)
            for name in f.EVENT_STREAMS
        )
        if opts.full or in_progress or not incremental_ready:
            self.summary.kind = "full"
            self._full_load(prefix="full:", backfill=False, restart=opts.full and not in_progress)
            self._incremental()  # the events that happened during the load
            return
        self.summary.kind = "incremental"
        if not self._incremental():
            log.warning(
                "events_cursor_too_old",
                message="the events cursor is older than Stripe's 30 days of events: "
                "falling back to a full load",
            )
            self.summary.kind = "full"
            self.summary.fell_back_to_full = True
            self._full_load(prefix="full:", backfill=False, restart=True)
            self._incremental()

    # -- full load

    def _backfill_prefix(self) -> str:
        o = self.options
        return f"backfill:{o.since or '-'}:{o.until or '-'}:"

    def _window(self) -> dict[str, int]:
        o = self.options
        w: dict[str, int] = {}
        if o.since:
            w["gte"] = int(
                datetime(o.since.year, o.since.month, o.since.day, tzinfo=UTC).timestamp()
            )
        if o.until:
            w["lt"] = int(
                datetime(o.until.year, o.until.month, o.until.day, tzinfo=UTC).timestamp()
            )
        return w

    def _full_load(self, *, prefix: str, backfill: bool, restart: bool = False) -> None:
        with self.engine.connect() as conn:
            units = load_cursors(conn, prefix)
        if restart:
            with self.engine.begin() as conn:
                conn.execute(delete(T_CURSORS).where(T_CURSORS.c.resource.like(prefix + "%")))
            units = {}
        plan_name = prefix + "plan"
        if plan_name not in units:
            units = self._plan(prefix, backfill)
        else:
            log.info("full_load_resumed", units=len(units) - 1)
        todo = []
        for name, row in sorted(units.items()):
            if name == plan_name or row.phase == "done":
                continue
            state = _state(row)
            spec = f.RESOURCE_BY_NAME[state["resource"]]
            todo.append(WorkUnit(name, spec, state.get("created"), row.cursor))
        self._loading = True
        try:
            self._run_units(todo)
        finally:
            self._loading = False
        self._finish_full_load(prefix, backfill)

    def _plan(self, prefix: str, backfill: bool) -> dict[str, Any]:
        """Record the events marker and cut each resource into work units, in one transaction."""
        now = utcnow()
        marker = None
        events_available = True
        if not backfill:
            try:
                marker = f.newest_event(self.api)
            except stripe.InvalidRequestError as exc:
                if getattr(exc, "http_status", None) != 404:
                    raise
                events_available = False
                log.warning(
                    "events_unavailable",
                    message="this Stripe serves no /v1/events: changes are found by full loads",
                )
        window = self._window()
        plan: list[tuple[str, dict[str, Any]]] = []
        self._history_start: int | None = None
        for spec in f.RESOURCES:
            try:
                slices = self._slices(spec, window)
            except stripe.InvalidRequestError as exc:
                if getattr(exc, "http_status", None) != 404:
                    raise
                self._skip(spec.name, exc)
                continue
            for i, created in enumerate(slices):
                plan.append(
                    (
                        f"{prefix}{spec.name}:{i:03d}",
                        {"resource": spec.name, "created": created or None},
                    )
                )
        run_id = self.summary.run_id
        with self.engine.begin() as conn:
            if not backfill:
                for stream in f.EVENT_STREAMS:
                    save_cursor(
                        conn,
                        stream,
                        cursor=marker["id"] if marker else None,
                        phase="full",
                        state={
                            "created": marker["created"] if marker else None,
                            # Every event after the marker is still at Stripe for 30 days
                            # from now: the cursor is good until checked_at + 30 days.
                            "checked_at": now.isoformat(),
                            "available": events_available,
                        },
                        run_id=run_id,
                        now=now,
                    )
            for name, state in plan:
                save_cursor(
                    conn, name, cursor=None, phase="full", state=state, run_id=run_id, now=now
                )
            save_cursor(
                conn,
                prefix + "plan",
                cursor=None,
                phase="full",
                state={"units": len(plan)},
                run_id=run_id,
                now=now,
            )
            units = load_cursors(conn, prefix)
        log.info("full_load_planned", units=len(plan), marker=marker["id"] if marker else None)
        return units

    def _slices(self, spec: f.ResourceSpec, window: dict[str, int]) -> list[dict[str, int]]:
        if not spec.sliced:
            return [window]
        params = {k: v for k, v in spec.params.items() if k != "expand"}
        first = self.api.get(
            spec.path, {**params, "limit": f.PAGE_LIMIT, **({"created": window} if window else {})}
        )
        data = first.get("data") or []
        if not first.get("has_more") or len(data) < 2:
            if spec.name == "customers" and data:
                self._history_start = _created_of(data[-1])
            return [window]
        newest, page_oldest = _created_of(data[0]), _created_of(data[-1])
        lo = window.get("gte", STRIPE_EPOCH)
        if self._history_start is not None:
            # Everything else belongs to a customer, so is no older than the oldest one.
            oldest = max(lo, min(self._history_start, page_oldest))
        else:
            oldest = f.oldest_created(self.api, spec.path, params, lo, page_oldest)
            if spec.name == "customers":
                self._history_start = oldest
        span = max(1, newest - page_oldest)
        est_pages = max(1.0, (newest - oldest) / span)
        n = max(1, min(MAX_SLICES, math.ceil(est_pages / PAGES_PER_SLICE)))
        if n == 1:
            return [window]
        edges = [oldest + (newest + 1 - oldest) * i // n for i in range(n + 1)]
        slices: list[dict[str, int]] = []
        for i in range(n):
            s: dict[str, int] = {}
            if i == 0:
                if "gte" in window:
                    s["gte"] = window["gte"]
            else:
                s["gte"] = edges[i]
            if i == n - 1:
                if "lt" in window:
                    s["lt"] = window["lt"]
            else:
                s["lt"] = edges[i + 1]
            slices.append(s)
        return slices

    def _skip(self, resource: str, exc: Exception) -> None:
        log.warning(
            "resource_skipped",
            resource=resource,
            reason=f"not served by this Stripe ({getattr(exc, 'http_status', '?')})",
        )
        if resource not in self.summary.skipped:
            self.summary.skipped.append(resource)

    def _run_units(self, units: list[WorkUnit]) -> None:
        if not units:
            return
        q: queue.Queue[tuple[str, WorkUnit, Any]] = queue.Queue(
            maxsize=max(4, 2 * self.options.workers)
        )
        stop = threading.Event()

        def put(item: tuple[str, WorkUnit, Any]) -> bool:
            while not stop.is_set():
                try:
                    q.put(item, timeout=0.2)
                    return True
                except queue.Full:
                    continue
            return False

        args = PrepareArgs(
            run_id=self.summary.run_id,
            api_version=API_VERSION,
            extra_id_key=self.settings.extra_id_metadata_key,
        )
        preparer = Preparer(
            args,
            processes=self.options.processes,
            after_pages=self.options.prepare_after_pages,
            log_level=self.settings.log_level,
            log_format=self.settings.log_format,
        )

        def work(unit: WorkUnit) -> None:
            try:
                for page in fetch_prepared_pages(
                    self.api,
                    unit.spec.path,
                    unit.spec.params,
                    prepare=preparer,
                    args=args,
                    starting_after=unit.cursor,
                    created=unit.created,
                    complete_invoices=unit.spec.name == "invoices",
                ):
                    if not put(("page", unit, page)):
                        return
                put(("done", unit, None))
            except BaseException as exc:  # handed to the writer thread, which decides
                put(("error", unit, exc))

        for u in units:
            self.progress.add(u.spec.name)
        remaining = len(units)
        try:
            with (
                ThreadPoolExecutor(
                    max_workers=self.options.workers, thread_name_prefix="stripe-fetch"
                ) as pool,
                self._writer_connection() as wconn,
            ):
                for u in units:
                    pool.submit(work, u)
                try:
                    pending: tuple[str, WorkUnit, Any] | None = None
                    while remaining:
                        kind, unit, payload = pending or q.get()
                        pending = None
                        if kind == "page":
                            # The pages already waiting go into the same transaction: one
                            # commit per batch instead of per page. Each unit's cursor is
                            # saved after its last page of the batch, in that transaction,
                            # so a crash still loses and duplicates nothing.
                            batch = [(unit, payload)]
                            while len(batch) < PAGES_PER_TRANSACTION:
                                try:
                                    item = q.get_nowait()
                                except queue.Empty:
                                    break
                                if item[0] != "page":
                                    pending = item
                                    break
                                batch.append((item[1], item[2]))
                            self._write_pages(wconn, batch)
                        elif kind == "done":
                            remaining -= 1
                        else:
                            remaining -= 1
                            self._unit_failed(unit, payload)
                finally:
                    stop.set()
        finally:
            preparer.close()

    def _unit_failed(self, unit: WorkUnit, exc: BaseException) -> None:
        if isinstance(exc, stripe.StripeError) and not _is_auth(exc):
            status = getattr(exc, "http_status", None)
            if status == 404:
                self._skip(unit.spec.name, exc)
                with self.engine.begin() as conn:
                    save_cursor(
                        conn,
                        unit.name,
                        cursor=unit.cursor,
                        phase="done",
                        state={
                            "resource": unit.spec.name,
                            "created": unit.created,
                            "skipped": True,
                        },
                        run_id=self.summary.run_id,
                        now=utcnow(),
                    )
                return
            if status == 400 and getattr(exc, "code", None) == "resource_missing" and unit.cursor:
                # The object the cursor names is gone from the list (e.g. a deleted
                # customer): start the unit over; writes are idempotent.
                log.info("cursor_object_gone", unit=unit.name, cursor=unit.cursor)
                unit.cursor = None
                self._run_units([unit])
                return
        raise exc

    @contextmanager
    def _writer_connection(self) -> Iterator[Connection]:
        """The writer's one connection for a full load. On SQLite with a bigger page cache
        (index maintenance on a large database otherwise thrashes the default 2 MB) and
        fewer WAL checkpoints (each one syncs the disk; a load writes hundreds of MB)."""
        with self.engine.connect() as conn:
            sqlite = conn.dialect.name == "sqlite"
            postgres = conn.dialect.name == "postgresql"
            if sqlite:
                conn.exec_driver_sql(f"PRAGMA cache_size=-{WRITER_CACHE_KB}")
                conn.exec_driver_sql(f"PRAGMA wal_autocheckpoint={WRITER_CHECKPOINT_PAGES}")
                conn.commit()
            if postgres:
                # psycopg prepares repeated statements; PostgreSQL then keeps a generic
                # plan chosen while the tables were empty (a sequential scan), and each
                # page's UPDATE of raw_objects scanned the whole table: plan every time.
                conn.exec_driver_sql("SET plan_cache_mode = force_custom_plan")
                conn.commit()
            try:
                yield conn
            finally:
                if (sqlite or postgres) and not conn.closed:
                    conn.rollback()
                    # Best effort: a failure here must not hide the load's own error.
                    with suppress(Exception):
                        if sqlite:
                            conn.exec_driver_sql("PRAGMA cache_size=-2000")  # the defaults
                            conn.exec_driver_sql("PRAGMA wal_autocheckpoint=1000")
                        else:
                            conn.exec_driver_sql("RESET plan_cache_mode")
                        conn.commit()

    def _write_pages(self, conn: Connection, batch: list[tuple[WorkUnit, FetchedPage]]) -> None:
        now = utcnow()
        last: dict[str, tuple[WorkUnit, FetchedPage]] = {}
        cursors: dict[str, str | None] = {}
        results = []
        with conn.begin():
            for unit, page in batch:
                for part in page.parts:
                    results.append(write_page(conn, part, now))
                last[unit.name] = (unit, page)
                cursors[unit.name] = page.last_id or cursors.get(unit.name, unit.cursor)
            for name, (unit, page) in last.items():
                save_cursor(
                    conn,
                    name,
                    cursor=cursors[name],
                    phase="full" if page.has_more else "done",
                    state={"resource": unit.spec.name, "created": unit.created},
                    run_id=self.summary.run_id,
                    now=now,
                )
            for res in results:
                self._after_page(conn, res)
        for name, (unit, _page) in last.items():
            unit.cursor = cursors[name]
        for unit, page in batch:
            self.progress.advance(unit.spec.name, page.count)
        self._pages_written += len(batch)
        if conn.dialect.name == "postgresql" and self._pages_written >= self._analyze_at:
            self._analyze_at *= 4
            self._analyze(conn)

    def _analyze(self, conn: Connection) -> None:
        """Fresh statistics while a load fills the tables: autovacuum comes too late,
        and without them PostgreSQL plans each page's DELETE of stale invoice lines as a
        sequential scan of the whole table."""
        with conn.begin():
            conn.exec_driver_sql("ANALYZE " + ", ".join(ANALYZED_TABLES))

    def _after_page(self, conn: Connection, res: PageResult) -> None:
        s = self.summary
        for k, v in res.counts.items():
            s.counts[k] += v
            s.objects += v
        if res.malformed:
            s.malformed += len(res.malformed)
            s.malformed_ids.extend(res.malformed)
            s.counts["malformed"] += len(res.malformed)
        touched = [*res.invoice_ids, *res.deleted_invoice_ids]
        # During a full load revenue lines are rebuilt once at the end (cheaper than per
        # page, and a resumed load ends the same way); incremental pages refresh theirs.
        if touched and self.revenue is not None and not self._loading:
            self.revenue(conn, self.settings, invoice_ids=touched)
        self.summary.touched_invoices.update(touched)

    def _finish_full_load(self, prefix: str, backfill: bool) -> None:
        # Customers referenced but never listed are deleted ones: Stripe's lists omit
        # them (and retrieving each would cost a request per deleted customer). One
        # created during the load is set right by the events applied after it. A
        # backfill lists only a window of customers, so it leaves its stubs alone.
        objs: list[dict[str, Any]] = []
        if not backfill:
            with self.engine.connect() as conn:
                stubs = unfilled_customer_stubs(conn)
            objs = [{"id": sid, "object": "customer", "deleted": True} for sid in stubs]
        now = utcnow()
        with self.engine.begin() as conn:
            if objs:
                res = save_objects(
                    conn,
                    objs,
                    now=now,
                    run_id=self.summary.run_id,
                    source="inferred",
                    api_version=API_VERSION,
                    extra_id_key=self.settings.extra_id_metadata_key,
                )
                self._after_page(conn, res)
            refresh_plan_names(conn)
            link_refunds(conn)
            if self.revenue is not None:
                self.revenue(conn, self.settings, invoice_ids=None)
            conn.execute(delete(T_CURSORS).where(T_CURSORS.c.resource.like(prefix + "%")))
            if not backfill:
                conn.execute(
                    update(T_CURSORS)
                    .where(T_CURSORS.c.resource.in_(list(f.EVENT_STREAMS)))
                    .values(phase="incremental", updated_at=now)
                )
        log.info("full_load_done", stubs_resolved=len(objs))

    # -- incremental

    def _incremental(self) -> bool:
        """Apply events after the cursors. False when a cursor is too old (full load needed)."""
        with self.engine.connect() as conn:
            cursors = load_cursors(conn, "events:")
        now = utcnow()
        for stream, types in f.EVENT_STREAMS.items():
            row = cursors.get(stream)
            if row is None:
                continue
            state = _state(row)
            if state.get("available") is False:
                continue
            checked = state.get("checked_at")
            if checked is not None and now - datetime.fromisoformat(checked) > EVENTS_RETENTION:
                # Events we have not read may already be gone from Stripe.
                return False
            try:
                self._apply_stream(stream, types, row.cursor, now)
            except stripe.StripeError as exc:
                status = getattr(exc, "http_status", None)
                if status == 400 and getattr(exc, "code", None) == "resource_missing":
                    return False  # the cursor's event is gone: older than Stripe keeps
                if status in (400, 404) and not _is_auth(exc):
                    # A Stripe look-alike without events or their filters: full loads.
                    log.warning(
                        "events_unavailable",
                        stream=stream,
                        message="this Stripe cannot list events after a cursor; "
                        "changes will be found by full loads",
                    )
                    with self.engine.begin() as conn:
                        save_cursor(
                            conn,
                            stream,
                            cursor=None,
                            phase="full",
                            state={"available": False},
                            run_id=self.summary.run_id,
                            now=utcnow(),
                        )
                    continue
                raise
        if self.summary.kind == "incremental":
            # (Right after a full load every invoice was just fetched.)
            self._refresh_unfinished_invoices()
        with self.engine.begin() as conn:
            refresh_plan_names(conn)
            link_refunds(conn)
        return True

    def _apply_stream(
        self, stream: str, types: tuple[str, ...], cursor: str | None, started: datetime
    ) -> None:
        created: Any = None
        for events in f.fetch_events_after(self.api, cursor, types):
            latest: dict[tuple[str, str], tuple[dict[str, Any], str | None]] = {}
            for ev in events:
                obj = (ev.get("data") or {}).get("object")
                if not isinstance(obj, dict) or not obj.get("id"):
                    continue
                etype = str(ev.get("type", ""))
                if etype.endswith(".deleted") and not etype.startswith("customer.subscription."):
                    obj = {**obj, "deleted": True}
                otype = str(obj.get("object"))
                latest[(otype, obj["id"])] = (obj, ev.get("api_version"))
            objs = self._complete(latest)
            newest = events[-1]
            now = utcnow()
            with self.engine.begin() as conn:
                by_version: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
                for obj, version in objs:
                    by_version[version].append(obj)
                for version, group in by_version.items():
                    res = save_objects(
                        conn,
                        group,
                        now=now,
                        run_id=self.summary.run_id,
                        source="event",
                        api_version=version,
                        extra_id_key=self.settings.extra_id_metadata_key,
                    )
                    self._after_page(conn, res)
                save_cursor(
                    conn,
                    stream,
                    cursor=newest["id"],
                    phase="incremental",
                    state={"created": newest.get("created"), "available": True},
                    run_id=self.summary.run_id,
                    now=now,
                )
            cursor, created = newest["id"], newest.get("created")
            self.progress.advance("events", len(events))
        # Read to the end: the cursor is current as of `started`.
        if created is None:
            created = self._cursor_created(stream)
        with self.engine.begin() as conn:
            save_cursor(
                conn,
                stream,
                cursor=cursor,
                phase="incremental",
                state={
                    "created": created,
                    "checked_at": started.isoformat(),
                    "available": True,
                },
                run_id=self.summary.run_id,
                now=utcnow(),
            )

    def _cursor_created(self, stream: str) -> Any:
        with self.engine.connect() as conn:
            row = load_cursors(conn, stream).get(stream)
        return _state(row).get("created")

    def _complete(
        self, latest: Mapping[tuple[str, str], tuple[dict[str, Any], str | None]]
    ) -> list[tuple[dict[str, Any], str | None]]:
        """Fetch again what an event payload lacks: invoice lines beyond the first page,
        discounts referenced by id that the database does not know yet."""
        bare: dict[tuple[str, str], list[str]] = {}
        for key, (obj, _v) in latest.items():
            if obj.get("deleted") or not carries_discount_ids(key[0]):
                continue
            ids = [d for d in obj.get("discounts") or [] if isinstance(d, str)]
            if ids:
                bare[key] = ids
        unknown: set[str] = set()
        if bare:
            with self.engine.connect() as conn:
                all_ids = {i for ids in bare.values() for i in ids}
                unknown = all_ids - known_discounts(conn, all_ids)
        out = []
        for key, (obj, version) in latest.items():
            if not obj.get("deleted") and key in bare and set(bare[key]) & unknown:
                try:
                    obj, version = f.retrieve(self.api, key[0], key[1]), API_VERSION
                except stripe.InvalidRequestError as exc:
                    if getattr(exc, "http_status", None) != 404:
                        raise
            elif key[0] == "invoice" and not obj.get("deleted"):
                f.complete_invoice_lines(self.api, obj)
            out.append((obj, version))
        return out

    def _refresh_unfinished_invoices(self) -> None:
        """Drafts and open invoices are fetched again until they are final."""
        seen: set[str] = set()
        spec = f.RESOURCE_BY_NAME["invoices"]
        for status in ("draft", "open"):
            try:
                for page in f.fetch_pages(
                    self.api, spec.path, {**spec.params, "status": status}, complete_invoices=True
                ):
                    seen.update(o["id"] for o in page.objects)
                    self._save_plain(page.objects, "list")
            except stripe.StripeError as exc:
                if _is_auth(exc) or isinstance(exc, stripe.RateLimitError):
                    raise
                # Without the status filter, the stored drafts and open invoices are
                # fetched one by one below.
                log.info("invoice_status_filter_unavailable", status=status, error=str(exc)[:200])
                continue
        with self.engine.connect() as conn:
            left = [i for i in unfinished_invoices(conn) if i not in seen]
        objs = []
        for iid in left:
            try:
                objs.append(f.retrieve(self.api, "invoice", iid))
            except stripe.StripeError as exc:
                if getattr(exc, "http_status", None) == 404 and not _is_auth(exc):
                    objs.append({"id": iid, "object": "invoice", "deleted": True})
                else:
                    raise
        self._save_plain(objs, "retrieve")

    def _save_plain(self, objs: list[dict[str, Any]], source: str) -> None:
        if not objs:
            return
        with self.engine.begin() as conn:
            res = save_objects(
                conn,
                objs,
                now=utcnow(),
                run_id=self.summary.run_id,
                source=source,
                api_version=API_VERSION,
                extra_id_key=self.settings.extra_id_metadata_key,
            )
            self._after_page(conn, res)


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


def objects_of(summary: SyncSummary, types: Iterable[str]) -> int:
    return sum(summary.counts.get(t, 0) for t in types)
