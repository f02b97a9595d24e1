"""A full load's pages: fetched by threads, parsed and normalized in worker processes.

One interpreter cannot parse, normalize and serialize thousands of objects a second and
write them too: its threads take turns on the GIL, and the writer waits. Here the
fetching threads only wait on HTTP; each page's body, as bytes, goes to a small pool of
processes that return it ready to write (`PreparedPage`). The writer, in the parent,
does nothing but SQL.

The pool starts only once a load has shown it is large (`after_pages`): a small sync
or a test prepares its pages in the fetching thread and never pays for processes.
`prepare_body` is pure: the same bytes give the same page, in a thread or a process.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

import orjson

from etl.extract.fetch import StripeApi, complete_invoice_lines, list_page_body, list_query
from etl.extract.pages import MalformedPageError, PagingGuard, list_page_problem
from etl.logs import configure_logging, get_logger
from etl.normalize.page import PreparedPage, prepare_page

log = get_logger("etl.sync")

# A page takes milliseconds to prepare; a worker that has not answered in this long is
# dead or stuck (a worker killed while it held the pool's queue lock leaves the pool
# waiting forever), and the load goes on without the pool rather than hang.
PREPARE_TIMEOUT_S = 30.0
# How long closing waits for the workers to leave before it kills them.
CLOSE_TIMEOUT_S = 10.0


@dataclass
class PreparedBody:
    """One list page, prepared: its paging facts, its objects ready to write, and the
    invoices whose lines go beyond the embedded ones (completed by the caller, which
    alone may call Stripe)."""

    count: int
    has_more: bool
    last_id: str | None
    page: PreparedPage
    incomplete: list[dict[str, Any]] = field(default_factory=list)
    # What makes the page not whole (`etl.extract.pages`); then nothing else is set.
    problem: str | None = None


@dataclass
class FetchedPage:
    """A page as the writer gets it: paging facts and one or more prepared parts."""

    count: int
    has_more: bool
    last_id: str | None
    parts: list[PreparedPage]


@dataclass(frozen=True)
class PrepareArgs:
    """What preparing needs besides the body; picklable, no secret in it."""

    run_id: int | None
    api_version: str | None
    extra_id_key: str


def _lines_incomplete(obj: Any) -> bool:
    lines = obj.get("lines") if isinstance(obj, dict) else None
    return isinstance(lines, dict) and bool(lines.get("has_more"))


def _prepare_listed(objects: list[Any], args: PrepareArgs) -> PreparedPage:
    return prepare_page(
        objects,
        run_id=args.run_id,
        source="list",
        api_version=args.api_version,
        extra_id_key=args.extra_id_key,
    )


def prepare_data(
    data: Mapping[str, Any], complete_invoices: bool, args: PrepareArgs
) -> PreparedBody:
    problem = list_page_problem(data)
    if problem is not None:
        return PreparedBody(0, False, None, _prepare_listed([], args), problem=problem)
    objects = list(data["data"])
    incomplete: list[dict[str, Any]] = []
    ready = objects
    if complete_invoices:
        incomplete = [o for o in objects if _lines_incomplete(o)]
        if incomplete:
            ready = [o for o in objects if not _lines_incomplete(o)]
    page = _prepare_listed(ready, args)
    last = objects[-1] if objects else None
    last_id = last.get("id") if isinstance(last, dict) else None
    return PreparedBody(len(objects), bool(data.get("has_more")), last_id, page, incomplete)


def prepare_body(body: bytes, complete_invoices: bool, args: PrepareArgs) -> PreparedBody | None:
    """A page body -> PreparedBody; None when orjson cannot read it as a JSON object (the
    caller then lets the SDK read it, which raises the SDK's error)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    return prepare_data(data, complete_invoices, args)


def _worker_init(log_level: str, log_format: str, parent: int) -> None:
    configure_logging(log_level, log_format)

    # A worker blocks on its call queue, which it holds both ends of: if the parent is
    # killed it would wait forever. It leaves when its parent is gone.
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


class Preparer:
    """Prepares page bodies: in the calling thread for the first `after_pages` pages, then
    in `processes` worker processes (none when 0). Thread-safe."""

    def __init__(
        self,
        args: PrepareArgs,
        *,
        processes: int,
        after_pages: int,
        log_level: str = "warning",
        log_format: str = "json",
    ) -> None:
        self.args = args
        self.processes = processes
        self.after_pages = after_pages
        self._log = (log_level, log_format)
        self._lock = threading.Lock()
        self._pages = 0
        self._pool: ProcessPoolExecutor | None = None

    def _pool_for_next(self) -> ProcessPoolExecutor | None:
        with self._lock:
            self._pages += 1
            if self.processes <= 0 or self._pages <= self.after_pages:
                return None
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    max_workers=self.processes,
                    # spawn, not fork: this process has threads and open connections.
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_worker_init,
                    initargs=(*self._log, os.getpid()),
                )
                log.info("prepare_pool_started", processes=self.processes)
            return self._pool

    def __call__(self, body: bytes, complete_invoices: bool) -> PreparedBody | None:
        pool = self._pool_for_next()
        if pool is not None:
            try:
                future = pool.submit(prepare_body, body, complete_invoices, self.args)
                return future.result(timeout=PREPARE_TIMEOUT_S)
            except (BrokenProcessPool, OSError, TimeoutError) as exc:
                # A worker killed (out of memory), stuck, or processes refused: the load
                # goes on, slower, with the pages prepared here.
                self._give_up(pool, exc)
        return prepare_body(body, complete_invoices, self.args)

    def _give_up(self, pool: ProcessPoolExecutor, exc: BaseException) -> None:
        with self._lock:
            if self.processes > 0:
                log.warning("prepare_pool_failed", error=repr(exc), fallback="fetching threads")
            self.processes = 0
            if self._pool is pool:
                self._pool = None
        workers = _workers_of(pool)  # shutdown() forgets them
        pool.shutdown(wait=False, cancel_futures=True)
        _stop_workers(workers, wait_s=0.0)

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            workers = _workers_of(pool)
            pool.shutdown(wait=False, cancel_futures=True)
            _stop_workers(workers, wait_s=CLOSE_TIMEOUT_S)


def _workers_of(pool: ProcessPoolExecutor) -> list[Any]:
    """The pool's worker processes. The executor keeps them in a private attribute (3.14's
    terminate_workers() is the public way to what `_stop_workers` does)."""
    table = getattr(pool, "_processes", None) or {}
    return list(table.values())


def _stop_workers(workers: list[Any], *, wait_s: float) -> None:
    """Let the workers leave within `wait_s`, then kill those still there.

    `shutdown(wait=True)` has no bound: a worker stuck on the pool's queue lock would
    hold the sync (and its lock) forever. A killed worker's sentinel also wakes the
    pool's manager thread, so that the interpreter's exit does not wait on it either.
    """
    deadline = time.monotonic() + wait_s
    for proc in workers:
        proc.join(max(0.0, deadline - time.monotonic()))
    for proc in workers:
        if proc.is_alive():
            proc.kill()
            proc.join(1.0)


def fetch_prepared_pages(
    api: StripeApi,
    path: str,
    params: Mapping[str, Any] | None,
    *,
    prepare: Callable[[bytes, bool], PreparedBody | None],
    args: PrepareArgs,
    starting_after: str | None = None,
    created: Mapping[str, int] | None = None,
    complete_invoices: bool = False,
) -> Iterator[FetchedPage]:
    """Pages of a list endpoint, newest first, from `starting_after` on, each prepared.

    The paging of `fetch.fetch_pages`; invoices whose lines do not fit the embedded
    first page get the rest from `/v1/invoices/{id}/lines` here, then are prepared in
    this thread (they are few)."""
    base = list_query(params, created)
    cursor = starting_after
    guard = PagingGuard(path, starting_after)
    while True:
        body = list_page_body(api, path, base, cursor)
        got = prepare(body, complete_invoices)
        if got is None:
            got = prepare_data(api.parse(body), complete_invoices, args)
        if got.problem is not None:
            raise MalformedPageError(path, got.problem)
        guard.advance(got.last_id, got.has_more)
        parts = [got.page]
        if got.incomplete:
            for inv in got.incomplete:
                complete_invoice_lines(api, inv)
            parts.append(_prepare_listed(got.incomplete, args))
        yield FetchedPage(got.count, got.has_more, got.last_id, parts)
        if not got.has_more:
            return
        cursor = got.last_id
