"""Full recompute on SQLite in worker processes: the pure computation beside the writer.

The machine's cores are otherwise idle while one process reads lines, computes and
writes. Here each worker process opens its own read connection to the database file,
reads the lines of its customer ranges (chunks in customer order, dealt round-robin),
runs `compute_customer` and sends the rows back, months already as the ISO text
SQLAlchemy's DATE type stores, as plain tuples. The parent keeps the one write
transaction and inserts the chunks in customer order, so the tables end up exactly as
the single-process run leaves them.

Workers are fresh interpreters (`python -m etl.metrics.workers`), not forks: a forked
child would inherit the parent's open database connections and whatever locks its other
threads hold, and multiprocessing's spawn/forkserver would re-run the parent's
`__main__`. Arguments go in as one pickle on stdin; messages come back on stdout as
length-prefixed pickles. This module imports only the engine (no SQLAlchemy), so a
worker starts in about a tenth of a second.
"""

from __future__ import annotations

import os
import pickle
import queue
import sqlite3
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from etl.metrics.engine import (
    Adjustment,
    Aggregates,
    CustomerResult,
    ExpectedItem,
    Params,
    compute_customer,
)

CHUNK_CUSTOMERS = 1000


class IsoMonths(dict[date, str]):
    """A month's date -> its ISO text, each text object shared (cheap to pickle)."""

    def __missing__(self, d: date) -> str:
        self[d] = text_ = d.isoformat()
        return text_


def text_rows(
    res: CustomerResult, iso: IsoMonths, as_of_text: str
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], tuple[Any, ...] | None]:
    """A customer's rows for SQLite inserts: dates as ISO text, the snapshot with `as_of`."""
    plan = [(c, k, iso[d], *rest) for c, k, d, *rest in res.plan_rows]
    cust = [(c, iso[d], *rest) for c, d, *rest in res.customer_rows]
    snap = None
    if res.snapshot is not None:
        c, d, *rest = res.snapshot
        snap = (c, iso[d], *rest, as_of_text)
    return plan, cust, snap


def chunks_of(ids: Sequence[int], size: int | None = None) -> list[tuple[int, int]]:
    """Inclusive (first, last) customer id ranges of `size` (CHUNK_CUSTOMERS) customers each."""
    size = size or CHUNK_CUSTOMERS
    return [(ids[i], ids[min(i + size, len(ids)) - 1]) for i in range(0, len(ids), size)]


def _by_customer(rows: Iterator[Any]) -> Iterator[tuple[int, list[Any]]]:
    current: int | None = None
    buf: list[Any] = []
    for ln in rows:
        if ln[0] != current:
            if buf:
                yield current, buf  # type: ignore[misc]
            current, buf = ln[0], []
        buf.append(ln)
    if buf:
        yield current, buf  # type: ignore[misc]


def work(
    path: str,
    sql: str,
    busy_timeout_ms: int,
    chunks: list[tuple[int, int]],
    params: Params,
    expected: dict[int, list[ExpectedItem]],
    adjustments: dict[int, list[Adjustment]],
    as_of_text: str,
    put: Callable[[tuple[Any, ...]], None],
) -> None:
    """Worker body: one message per chunk (its plan, customer and snapshot rows, each
    flattened; counts), then ("done", monthly sums, by-plan sums)."""
    try:
        db = sqlite3.connect(path, isolation_level=None)
        db.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        # One read transaction for all chunks: every chunk sees the same snapshot.
        db.execute("BEGIN")
        agg = Aggregates()
        iso = IsoMonths()
        no_items: tuple[()] = ()
        for lo, hi in chunks:
            plan: list[tuple[Any, ...]] = []
            cust: list[tuple[Any, ...]] = []
            snaps: list[tuple[Any, ...]] = []
            counts = [0, 0, 0]  # customers, lines, unrated lines
            for cid, lines in _by_customer(db.execute(sql, (lo, hi))):
                res = compute_customer(
                    cid, lines, params, expected.get(cid, no_items), adjustments.get(cid, no_items)
                )
                agg.add_rows(res.customer_rows, res.plan_rows)
                p, c, s = text_rows(res, iso, as_of_text)
                plan += p
                cust += c
                if s is not None:
                    snaps.append(s)
                counts[0] += 1
                counts[1] += len(lines)
                counts[2] += res.unrated_lines
            # Flat in column order: the parent passes slices straight to its INSERTs.
            flat = [[x for r in rows for x in r] for rows in (plan, cust, snaps)]
            put(("chunk", *flat, *counts))
        db.execute("COMMIT")
        db.close()
        put(("done", agg.monthly, agg.by_plan))
    except BaseException:
        put(("error", traceback.format_exc()))


def start_worker(args: tuple[Any, ...]) -> subprocess.Popen[bytes]:
    """A worker process running `work(*args, put)`."""
    # The worker imports the parent's own `etl` (the rows are pickles of its classes), not
    # whichever one the worker's working directory or an installed copy would give.
    root = str(Path(__file__).resolve().parents[2])
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, (root, os.environ.get("PYTHONPATH")))),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "etl.metrics.workers"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
    )
    assert proc.stdin is not None
    proc.stdin.write(pickle.dumps(args, protocol=pickle.HIGHEST_PROTOCOL))
    proc.stdin.close()
    return proc


def receive(proc: subprocess.Popen[bytes]) -> tuple[Any, ...]:
    """The worker's next message; an error if it failed or died without sending one."""
    out = proc.stdout
    assert out is not None
    head = out.read(8)
    body = out.read(int.from_bytes(head, "little")) if len(head) == 8 else b""
    if not body:
        raise RuntimeError(f"recompute worker exited (code {proc.wait()}) without its results")
    msg: tuple[Any, ...] = pickle.loads(body)
    if msg[0] == "error":
        raise RuntimeError("recompute worker failed:\n" + msg[1])
    return msg


def _main() -> None:
    args: tuple[Any, ...] = pickle.load(sys.stdin.buffer)
    out = sys.stdout.buffer
    # Pickled messages wait here while the parent is busy writing: the worker computes on.
    pending: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()

    def send() -> None:
        while (b := pending.get()) is not None:
            out.write(len(b).to_bytes(8, "little"))
            out.write(b)
            out.flush()

    sender = threading.Thread(target=send)
    sender.start()
    try:
        put: Callable[[tuple[Any, ...]], None] = lambda m: pending.put(  # noqa: E731
            pickle.dumps(m, protocol=pickle.HIGHEST_PROTOCOL)
        )
        work(*args, put)  # type: ignore[call-arg]
    finally:
        pending.put(None)
        sender.join()


def merge(agg: Aggregates, monthly: dict[Any, list[int]], by_plan: dict[Any, list[int]]) -> None:
    for mine, theirs in ((agg.monthly, monthly), (agg.by_plan, by_plan)):
        for key, v in theirs.items():
            have = mine.get(key)
            if have is None:
                mine[key] = v
            else:
                for i, x in enumerate(v):
                    have[i] += x


if __name__ == "__main__":
    _main()
