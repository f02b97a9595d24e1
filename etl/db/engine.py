"""Engines from DATABASE_URL, the one transaction helper, and what a failed connection means.

Engines are only ever built here, called from the composition root (etl.bootstrap),
never at import time.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError

from etl.config import ConfigError, parse_database_url

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


# ------------------------------------------------------- what a connection failure means


def probe_database(engine: Engine) -> None:
    """Open one connection; when that fails, raise a ConfigError naming DATABASE_URL and
    saying what is wrong (a missing directory, a server that does not answer, a database
    that does not exist), so that no command reports it as a missing schema or a
    traceback. Bounded: PostgreSQL connects with connect_timeout, SQLite opens a file."""
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                # Opening is lazy in SQLite: read the header to learn that a file is
                # not a database at all.
                conn.exec_driver_sql("SELECT count(*) FROM sqlite_master")
    except SQLAlchemyError as exc:
        raise ConfigError("DATABASE_URL", database_problem(engine.url, exc)) from None


def database_problem(url: URL, exc: BaseException) -> str:
    """One line: what a failed connection to `url` says is wrong with DATABASE_URL."""
    driver_message = str(getattr(exc, "orig", None) or exc).strip()
    first_line = driver_message.splitlines()[0] if driver_message else type(exc).__name__
    if url.get_backend_name() == "sqlite":
        return _sqlite_problem(url, first_line)
    where = f"{url.host or 'localhost'}:{url.port or 5432}"
    first_line = first_line.removeprefix("connection failed: ")
    missing = re.search(r'database "([^"]+)" does not exist', first_line)
    if missing:
        return (
            f"the PostgreSQL server at {where} has no database {missing.group(1)!r} "
            f"(create it: createdb -h {url.host or 'localhost'} {missing.group(1)})"
        )
    if "Connection refused" in first_line:
        return f"no PostgreSQL server answers at {where} (connection refused)"
    return f"cannot connect to PostgreSQL at {where}: {first_line}"


def _sqlite_problem(url: URL, driver_message: str) -> str:  # noqa: PLR0911 - one return per cause
    path = Path(url.database or "")
    parent = path.parent.resolve()
    if not parent.exists():
        return f"the directory {parent} of the SQLite file does not exist (create it first)"
    if not parent.is_dir():
        return f"{parent} is not a directory, so it cannot hold the SQLite file {path.name}"
    if path.is_dir():
        return f"{path} is a directory, not an SQLite database file"
    if not path.exists() and (
        not os.access(parent, os.W_OK | os.X_OK) or "unable to open" in driver_message
    ):
        return f"cannot create the SQLite file {path}: the directory {parent} is not writable"
    if path.exists() and not os.access(path, os.R_OK):
        return f"cannot read the SQLite file {path}: permission denied"
    if "not a database" in driver_message:
        return f"{path} is not an SQLite database"
    return f"cannot open the SQLite file {path}: {driver_message}"
