"""The recompute's bulk writer of `customer_plan_mrr`, `customer_mrr` and
`customer_snapshots`: multi-row INSERTs on SQLite, COPY on PostgreSQL (there from a
thread of its own, so that the database inserts one batch while the next is computed).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from etl.metrics.recompute.reading import CUST_COLS, PLAN_COLS, SNAP_COLS
from etl.metrics.workers import IsoMonths

FLUSH_ROWS = 20_000


class Writer:
    """Bulk INSERTs through the driver: multi-row VALUES statements, the fastest path from
    Python on both databases. The engine's rows are tuples in column order; on SQLite the
    month goes out as the ISO text SQLAlchemy's DATE type stores.
    """

    ROWS_PER_STATEMENT = 200

    def __init__(self, conn: Connection, as_of: datetime, months_as_text: bool = False) -> None:
        self.conn = conn
        self.sqlite = conn.dialect.name == "sqlite"
        # Rows from `workers.text_rows`: months already text, snapshots with `as_of`.
        self.ready = months_as_text
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None
        self.cur = dbapi.cursor()
        self.ph = "?" if self.sqlite else "%s"
        self._iso = IsoMonths()
        self.as_of = as_of.strftime("%Y-%m-%d %H:%M:%S.%f") if self.sqlite else as_of
        self.plan: list[tuple[Any, ...]] = []
        self.cust: list[tuple[Any, ...]] = []
        self.snap: list[tuple[Any, ...]] = []
        self.counts = {"plan": 0, "cust": 0, "snap": 0}
        self._sql: dict[tuple[str, int], str] = {}
        self._queue: queue.Queue[tuple[list[Any], list[Any], list[Any]] | None] | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def add(self, plan_rows: list[Any], cust_rows: list[Any], snap: Any) -> None:
        self.plan += plan_rows
        self.cust += cust_rows
        if snap is not None:
            self.snap.append(snap if self.ready else (*snap, self.as_of))
        if len(self.plan) + len(self.cust) >= FLUSH_ROWS:
            self.flush()

    def _text_months(self, rows: list[tuple[Any, ...]], pos: int) -> list[tuple[Any, ...]]:
        iso = self._iso
        if pos == 2:  # customer_plan_mrr
            return [(c, k, iso[d], *rest) for c, k, d, *rest in rows]
        return [(c, iso[d], *rest) for c, d, *rest in rows]

    def _statement(self, table: str, cols: list[str], n: int) -> str:
        sql = self._sql.get((table, n))
        if sql is None:
            one = "(" + ",".join([self.ph] * len(cols)) + ")"
            sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES " + ",".join([one] * n)
            self._sql[(table, n)] = sql
        return sql

    def _insert(
        self, table: str, cols: list[str], rows: list[tuple[Any, ...]], month_pos: int
    ) -> None:
        if not rows:
            return
        if not self.sqlite:
            self._copy(table, cols, rows)
            return
        if not self.ready:
            rows = self._text_months(rows, month_pos)
        n = self.ROWS_PER_STATEMENT
        full = len(rows) - len(rows) % n
        execute = self.cur.execute
        if full:
            sql = self._statement(table, cols, n)
            for i in range(0, full, n):
                execute(sql, [x for r in rows[i : i + n] for x in r])
        rest = rows[full:]
        if rest:
            execute(self._statement(table, cols, len(rest)), [x for r in rest for x in r])

    def insert_flat(self, key: str, table: str, cols: list[str], flat: list[Any]) -> None:
        """Rows flattened in column order by a worker, inserted straight away (the parent
        only executes: flattening 20 M values here cost as much as a worker's share)."""
        w = len(cols)
        rows = len(flat) // w
        if not self.sqlite:
            self._copy(table, cols, [flat[i : i + w] for i in range(0, len(flat), w)])
            self.counts[key] += rows
            return
        n = self.ROWS_PER_STATEMENT
        step = n * w
        full = (rows - rows % n) * w
        execute = self.cur.execute
        if full:
            sql = self._statement(table, cols, n)
            for i in range(0, full, step):
                execute(sql, flat[i : i + step])
        if full < len(flat):
            execute(self._statement(table, cols, rows % n), flat[full:])
        self.counts[key] += rows

    def _copy(self, table: str, cols: list[str], rows: Sequence[Sequence[Any]]) -> None:
        """PostgreSQL: COPY, its bulk path. A multi-row INSERT there cost more than the
        whole computation: psycopg re-parses a long statement's placeholders each time."""
        with self.cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as cp:
            for r in rows:
                cp.write_row(r)

    def flush(self) -> None:
        self.counts["plan"] += len(self.plan)
        self.counts["cust"] += len(self.cust)
        self.counts["snap"] += len(self.snap)
        batch = (self.plan, self.cust, self.snap)
        self.plan, self.cust, self.snap = [], [], []
        if self._queue is not None:
            self._put(batch)
        else:
            self._write(batch)

    def _write(self, batch: tuple[list[Any], list[Any], list[Any]]) -> None:
        plan, cust, snap = batch
        self._insert("customer_plan_mrr", PLAN_COLS, plan, 2)
        self._insert("customer_mrr", CUST_COLS, cust, 1)
        self._insert("customer_snapshots", SNAP_COLS, snap, 1)

    def in_background(self) -> None:
        """PostgreSQL: write from a thread of its own, so that the database inserts one
        batch while this thread computes the next (the connection is the writer's alone
        from now until `close`: the lines must be read through another)."""
        self._queue = queue.Queue(maxsize=2)
        self._thread = threading.Thread(target=self._drain, name="recompute-writer", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        assert self._queue is not None
        while (batch := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._write(batch)
                except BaseException as exc:  # handed to the computing thread
                    self._error = exc

    def _put(self, batch: tuple[list[Any], list[Any], list[Any]] | None) -> None:
        assert self._queue is not None
        if self._error is not None:
            raise self._error
        self._queue.put(batch)

    def abandon(self) -> None:
        """Stop the background writer without writing what is left (the run failed: its
        transaction is rolled back)."""
        if self._thread is not None and self._queue is not None:
            self._error = self._error or RuntimeError("recompute abandoned")
            self._queue.put(None)
            self._thread.join()
            self._thread, self._queue = None, None
        self.cur.close()

    def close(self) -> None:
        self.flush()
        if self._thread is not None:
            self._put(None)
            self._thread.join()
            self._thread, self._queue = None, None
            if self._error is not None:
                raise self._error
        self.cur.close()
