"""The full load: its units fetched concurrently, written by one thread, then finished.

Fetching threads only read Stripe (their pages prepared in worker processes once the
load is large, see `pipeline`) and hand pages over a bounded queue; this thread writes
them a few pages per transaction together with the units' cursors, so that a crash at
any instant loses nothing and duplicates nothing: the next run resumes each unit after
its last written page. Once every unit is done, customers referenced but never listed
are marked deleted, plan names and refund links are settled, and the revenue lines
rebuilt once.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from typing import Any

import stripe
from sqlalchemy import Connection, Engine, delete, update

from etl.clock import utcnow
from etl.extract import fetch as f
from etl.extract.client import API_VERSION
from etl.load.catalogue import refresh_plan_names
from etl.load.save import link_refunds, write_page
from etl.logs import get_logger
from etl.normalize.page import PageResult
from etl.sync.context import SyncContext, is_auth_error
from etl.sync.cursors import T_CURSORS, cursor_state, load_cursors, save_cursor
from etl.sync.pipeline import FetchedPage, PrepareArgs, Preparer, fetch_prepared_pages
from etl.sync.plan import WorkUnit, plan_full_load
from etl.sync.stored import unfilled_customer_stubs

log = get_logger("etl.sync")

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

# What fetching threads hand the writer: ("page", unit, FetchedPage), ("done", unit,
# None) or ("error", unit, the exception).
Item = tuple[str, WorkUnit, Any]


class FullLoad:
    def __init__(self, ctx: SyncContext, *, analyze_first_at: int = ANALYZE_FIRST_AT_PAGES):
        self.ctx = ctx
        self._pages_written = 0
        self._analyze_at = analyze_first_at

    def run(self, *, prefix: str, backfill: bool, restart: bool = False) -> None:
        """Plan (or resume) the units under `prefix`, run them, finish the load."""
        ctx = self.ctx
        with ctx.engine.connect() as conn:
            units = load_cursors(conn, prefix)
        if restart:
            with ctx.engine.begin() as conn:
                conn.execute(delete(T_CURSORS).where(T_CURSORS.c.resource.like(prefix + "%")))
            units = {}
        plan_name = prefix + "plan"
        if plan_name not in units:
            units = plan_full_load(ctx, prefix, backfill)
        else:
            log.info("full_load_resumed", units=len(units) - 1)
        todo = []
        for name, row in sorted(units.items()):
            if name == plan_name or row.phase == "done":
                continue
            state = cursor_state(row)
            spec = f.RESOURCE_BY_NAME[state["resource"]]
            todo.append(WorkUnit(name, spec, state.get("created"), row.cursor))
        ctx.loading = True
        try:
            self._run_units(todo)
        finally:
            ctx.loading = False
        self._finish(prefix, backfill)

    # -- running units

    def _run_units(self, units: list[WorkUnit]) -> None:
        if not units:
            return
        ctx = self.ctx
        q: queue.Queue[Item] = queue.Queue(maxsize=max(4, 2 * ctx.options.workers))
        stop = threading.Event()
        args = PrepareArgs(
            run_id=ctx.summary.run_id,
            api_version=API_VERSION,
            extra_id_key=ctx.settings.extra_id_metadata_key,
        )
        preparer = Preparer(
            args,
            processes=ctx.options.processes,
            after_pages=ctx.options.prepare_after_pages,
            log_level=ctx.settings.log_level,
            log_format=ctx.settings.log_format,
        )
        for u in units:
            ctx.progress.add(u.spec.name)
        try:
            with (
                ThreadPoolExecutor(
                    max_workers=ctx.options.workers, thread_name_prefix="stripe-fetch"
                ) as pool,
                writer_connection(ctx.engine) as wconn,
            ):
                for u in units:
                    pool.submit(self._fetch_unit, u, q, stop, preparer, args)
                try:
                    self._write_as_fetched(q, wconn, len(units))
                finally:
                    stop.set()
        finally:
            preparer.close()

    def _fetch_unit(
        self,
        unit: WorkUnit,
        q: queue.Queue[Item],
        stop: threading.Event,
        preparer: Preparer,
        args: PrepareArgs,
    ) -> None:
        """A fetching thread: the unit's pages onto the queue, then "done" (or "error")."""
        try:
            for page in fetch_prepared_pages(
                self.ctx.api,
                unit.spec.path,
                unit.spec.params,
                prepare=preparer,
                args=args,
                starting_after=unit.cursor,
                created=unit.created,
                complete_invoices=unit.spec.name == "invoices",
            ):
                if not _put(q, stop, ("page", unit, page)):
                    return
            _put(q, stop, ("done", unit, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the writer thread, which decides
            _put(q, stop, ("error", unit, exc))

    def _write_as_fetched(self, q: queue.Queue[Item], wconn: Connection, remaining: int) -> None:
        """The writer: pages as they come, until every unit is done or failed."""
        pending: Item | None = None
        while remaining:
            kind, unit, payload = pending or q.get()
            pending = None
            if kind == "page":
                # The pages already waiting go into the same transaction: one commit per
                # batch instead of per page. Each unit's cursor is saved after its last
                # page of the batch, in that transaction, so a crash still loses and
                # duplicates nothing.
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

    def _unit_failed(self, unit: WorkUnit, exc: BaseException) -> None:
        ctx = self.ctx
        if isinstance(exc, stripe.StripeError) and not is_auth_error(exc):
            status = getattr(exc, "http_status", None)
            if status == 404:
                ctx.skip(unit.spec.name, exc)
                with ctx.engine.begin() as conn:
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
                        run_id=ctx.summary.run_id,
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

    # -- writing

    def _write_pages(self, conn: Connection, batch: list[tuple[WorkUnit, FetchedPage]]) -> None:
        ctx = self.ctx
        now = utcnow()
        last: dict[str, tuple[WorkUnit, FetchedPage]] = {}
        cursors: dict[str, str | None] = {}
        results: list[PageResult] = []
        with conn.begin():
            for unit, page in batch:
                results.extend(write_page(conn, part, now) for part in page.parts)
                last[unit.name] = (unit, page)
                cursors[unit.name] = page.last_id or cursors.get(unit.name, unit.cursor)
            for name, (unit, page) in last.items():
                save_cursor(
                    conn,
                    name,
                    cursor=cursors[name],
                    phase="full" if page.has_more else "done",
                    state={"resource": unit.spec.name, "created": unit.created},
                    run_id=ctx.summary.run_id,
                    now=now,
                )
            for res in results:
                ctx.after_page(conn, res)
        for name, (unit, _page) in last.items():
            unit.cursor = cursors[name]
        for unit, page in batch:
            ctx.progress.advance(unit.spec.name, page.count)
        self._pages_written += len(batch)
        if conn.dialect.name == "postgresql" and self._pages_written >= self._analyze_at:
            self._analyze_at *= 4
            _analyze(conn)

    def _finish(self, prefix: str, backfill: bool) -> None:
        ctx = self.ctx
        # Customers referenced but never listed are deleted ones: Stripe's lists omit
        # them (and retrieving each would cost a request per deleted customer). One
        # created during the load is set right by the events applied after it. A
        # backfill lists only a window of customers, so it leaves its stubs alone.
        objs: list[dict[str, Any]] = []
        if not backfill:
            with ctx.engine.connect() as conn:
                stubs = unfilled_customer_stubs(conn)
            objs = [{"id": sid, "object": "customer", "deleted": True} for sid in stubs]
        now = utcnow()
        with ctx.engine.begin() as conn:
            if objs:
                ctx.write_objects(conn, objs, source="inferred", now=now)
            refresh_plan_names(conn)
            link_refunds(conn)
            if ctx.derive is not None:
                ctx.derive(conn, ctx.settings, invoice_ids=None)
            conn.execute(delete(T_CURSORS).where(T_CURSORS.c.resource.like(prefix + "%")))
            if not backfill:
                conn.execute(
                    update(T_CURSORS)
                    .where(T_CURSORS.c.resource.in_(list(f.EVENT_STREAMS)))
                    .values(phase="incremental", updated_at=now)
                )
        log.info("full_load_done", stubs_resolved=len(objs))


def _put(q: queue.Queue[Item], stop: threading.Event, item: Item) -> bool:
    """Hand an item to the writer; False once the writer has stopped (nothing will come)."""
    while not stop.is_set():
        try:
            q.put(item, timeout=0.2)
        except queue.Full:
            continue
        else:
            return True
    return False


def _analyze(conn: Connection) -> None:
    """Fresh statistics while a load fills the tables: autovacuum comes too late,
    and without them PostgreSQL plans each page's DELETE of stale invoice lines as a
    sequential scan of the whole table."""
    with conn.begin():
        conn.exec_driver_sql("ANALYZE " + ", ".join(ANALYZED_TABLES))


@contextmanager
def writer_connection(engine: Engine) -> Iterator[Connection]:
    """The writer's one connection for a full load. On SQLite with a bigger page cache
    (index maintenance on a large database otherwise thrashes the default 2 MB) and
    fewer WAL checkpoints (each one syncs the disk; a load writes hundreds of MB)."""
    with engine.connect() as conn:
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
