"""Engines from DATABASE_URL, and the one transaction helper.

Engines are only ever built here, called from the composition root (etl.bootstrap),
never at import time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL

from etl.config import parse_database_url

SQLITE_BUSY_TIMEOUT_MS = 30_000


def make_engine(url: str | URL, *, echo: bool = False) -> Engine:
    url = parse_database_url(url) if isinstance(url, str) else url
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, echo)
    return create_engine(
        url,
        echo=echo,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=10,
        connect_args={"connect_timeout": 10, "application_name": "stripe-metrics-etl"},
    )


def _sqlite_engine(url: URL, echo: bool) -> Engine:
    engine = create_engine(
        url,
        echo=echo,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin, so that
        # BEGIN IMMEDIATE below really starts the transaction.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        if url.database and url.database != ":memory:":
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # IMMEDIATE takes the write lock up front: two writers wait on the busy
        # timeout instead of failing half-way with "database is locked". Readers
        # (read_connection) begin deferred: under WAL they never wait for a writer.
        if conn.get_execution_options().get(_READ_ONLY):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


_READ_ONLY = "etl_read_only"


def read_connection(engine: Engine) -> Connection:
    """A connection for reads only. On SQLite its transactions do not take the write
    lock, so API reads go on while a sync or recompute writes (write through
    `transaction`/`engine.begin()` instead). Use as `with read_connection(engine) as conn:`."""
    conn = engine.connect()
    conn.execution_options(**{_READ_ONLY: True})
    return conn


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """One unit of work: commits on success, rolls back on any exception."""
    with engine.begin() as conn:
        yield conn
