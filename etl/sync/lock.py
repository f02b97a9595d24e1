"""One sync at a time, per database.

PostgreSQL: a session-level advisory lock held on a dedicated connection for the
whole run (released by the server if the process dies), plus the `locks` row so that
operators can see who holds it. SQLite: the `locks` row itself, with a heartbeat; a
holder that stopped beating (or whose process is gone, on this host) is taken over.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import zlib
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, delete, select, text, update

from etl.clock import utcnow
from etl.db import tables
from etl.db.upsert import dialect_insert
from etl.errors import EtlError

T_LOCKS = tables.locks

HEARTBEAT_S = 5.0
STALE_AFTER_S = 60.0


class LockBusyError(EtlError):
    """Another sync holds the lock."""


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _holder_gone(holder: str) -> bool:
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not (pid.isascii() and pid.isdigit()):
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _advisory_key(name: str) -> int:
    return zlib.crc32(f"etl:{name}".encode()) & 0x7FFFFFFF


class SyncLock:
    def __init__(self, engine: Engine, name: str = "sync") -> None:
        self.engine = engine
        self.name = name
        self.holder = _holder()
        self._pg_conn: Any = None
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    # -- taking

    def _try_row(self) -> tuple[bool, Any]:
        now = utcnow()
        with self.engine.begin() as conn:
            row = conn.execute(select(T_LOCKS).where(T_LOCKS.c.name == self.name)).first()
            pg = conn.dialect.name == "postgresql"
            if row is not None and row.holder != self.holder and not pg:
                fresh = now - row.heartbeat_at < timedelta(seconds=STALE_AFTER_S)
                if fresh and not _holder_gone(row.holder):
                    return False, row
            conn.execute(delete(T_LOCKS).where(T_LOCKS.c.name == self.name))
            conn.execute(
                dialect_insert(conn, T_LOCKS).values(
                    name=self.name, holder=self.holder, acquired_at=now, heartbeat_at=now
                )
            )
        return True, None

    def _try_pg(self) -> bool:
        conn = self.engine.connect()
        got = conn.execute(
            text("SELECT pg_try_advisory_lock(:k)"), {"k": _advisory_key(self.name)}
        ).scalar()
        conn.commit()
        if not got:
            conn.close()
            return False
        self._pg_conn = conn
        return True

    def acquire(self, wait_s: float = 0.0) -> None:
        deadline = time.monotonic() + wait_s
        pg = self.engine.dialect.name == "postgresql"
        while True:
            if pg:
                if self._try_pg():
                    self._try_row()
                    break
                row = None
                with self.engine.connect() as conn:
                    row = conn.execute(select(T_LOCKS).where(T_LOCKS.c.name == self.name)).first()
            else:
                ok, row = self._try_row()
                if ok:
                    break
            if time.monotonic() >= deadline:
                who = (
                    f" ({row.holder}, since {row.acquired_at:%Y-%m-%d %H:%M:%S} UTC)" if row else ""
                )
                raise LockBusyError(f"another sync is already running{who}; try again later")
            time.sleep(min(1.0, max(0.05, deadline - time.monotonic())))
        self._stop.clear()
        self._beat = threading.Thread(
            target=self._heartbeat, name="sync-lock-heartbeat", daemon=True
        )
        self._beat.start()

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            with contextlib.suppress(Exception), self.engine.begin() as conn:
                conn.execute(
                    update(T_LOCKS)
                    .where(T_LOCKS.c.name == self.name, T_LOCKS.c.holder == self.holder)
                    .values(heartbeat_at=utcnow())
                )

    def release(self) -> None:
        self._stop.set()
        if self._beat is not None:
            self._beat.join(timeout=HEARTBEAT_S + 1)
            self._beat = None
        with contextlib.suppress(Exception), self.engine.begin() as conn:
            conn.execute(
                delete(T_LOCKS).where(T_LOCKS.c.name == self.name, T_LOCKS.c.holder == self.holder)
            )
        if self._pg_conn is not None:
            with contextlib.suppress(Exception):
                self._pg_conn.execute(
                    text("SELECT pg_advisory_unlock(:k)"), {"k": _advisory_key(self.name)}
                )
                self._pg_conn.commit()
            with contextlib.suppress(Exception):
                self._pg_conn.close()
            self._pg_conn = None


@contextlib.contextmanager
def sync_lock(engine: Engine, name: str = "sync", wait_s: float = 0.0) -> Iterator[SyncLock]:
    lock = SyncLock(engine, name)
    lock.acquire(wait_s)
    try:
        yield lock
    finally:
        lock.release()
