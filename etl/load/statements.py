"""Bulk writes by executemany, with each statement compiled once per shape.

The page writer's statements repeat with every page: the same table, the same columns,
the same ON CONFLICT clause. Built and compiled once per (backend, table, columns,
variant) and executed for a whole page's rows, they cost the database's work and little
more; on SQLite they even skip SQLAlchemy's per-execution layers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from itertools import repeat
from typing import Any

from sqlalchemy import Connection, Table, or_, update

from etl.db.upsert import dialect_insert

# Upsert statements built once per (backend, table, columns, variant) and executed with
# executemany: compiling a fresh multi-row VALUES statement per page costs more than the
# database's work, and the pipeline must never be the bottleneck.
_STATEMENTS: dict[tuple[Any, ...], Any] = {}


def execute_many(
    conn: Connection,
    table: Table,
    rows: list[dict[str, Any]],
    variant: str,
    build: Callable[[Any, list[str]], Any],
) -> None:
    """Write `rows` by the statement `build(insert, columns)` makes (cached under
    `variant`), one executemany per group of rows with the same columns."""
    if not rows:
        return
    for group in uniform_groups(rows):
        cols = list(group[0])
        key = (conn.dialect.name, table.name, tuple(cols), variant)
        stmt = _STATEMENTS.get(key)
        if stmt is None:
            stmt = build(dialect_insert(conn, table), cols)
            if conn.dialect.name == "sqlite":
                stmt = _Rendered.of(stmt, conn, cols) or stmt
            _STATEMENTS[key] = stmt
        if isinstance(stmt, _Rendered):
            stmt.run(conn, group)
        else:
            conn.execute(stmt, group)


@dataclass(frozen=True)
class _Rendered:
    """A statement compiled once to the driver's SQL, run with plain tuples (executemany).

    SQLAlchemy's per-execution work (parameter dicts, bind processing through its layers)
    cost as much as SQLite's own; here each value goes through its type's processor
    (e.g. datetimes to SQLite's text format) and nothing else.
    """

    sql: str
    getters: tuple[tuple[str | None, Any, Callable[[Any], Any] | None], ...]

    @classmethod
    def of(cls, stmt: Any, conn: Connection, cols: list[str]) -> _Rendered | None:
        compiled = stmt.compile(dialect=conn.dialect, column_keys=cols)
        names = compiled.positiontup
        if names is None:  # a named paramstyle: leave it to SQLAlchemy
            return None
        getters = []
        for name in names:
            if name not in cols and name in stmt.table.c:
                return None  # a column default SQLAlchemy would compute: its own path
            bind = compiled.binds[name]
            proc = _fast_datetime(bind.type, conn) or bind.type.dialect_impl(
                conn.dialect
            ).bind_processor(conn.dialect)
            if name in cols:
                getters.append((name, None, proc))
            else:  # a literal of the statement itself
                value = bind.effective_value
                getters.append((None, proc(value) if proc else value, None))
        return cls(compiled.string, tuple(getters))

    def run(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        # Column by column, then transposed: a comprehension per column and `map` for the
        # processors cost a third of building each row's tuple value by value.
        cols: list[Iterable[Any]] = []
        for c, v, p in self.getters:
            if c is None:
                cols.append(repeat(v, len(rows)))
                continue
            col = [r[c] for r in rows]
            cols.append(col if p is None else list(map(p, col)))
        conn.exec_driver_sql(self.sql, list(zip(*cols, strict=True)))


_SQLITE_DATETIME = (
    "%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d.%(microsecond)06d"
)


def _fast_datetime(type_: Any, conn: Connection) -> Callable[[Any], Any] | None:
    """SQLite's datetime text, as SQLAlchemy writes it, by `isoformat` (the same text for
    naive datetimes, a third of the cost); anything else goes to SQLAlchemy's processor."""
    impl = type_.dialect_impl(conn.dialect)
    if getattr(impl, "_storage_format", None) != _SQLITE_DATETIME:
        return None
    slow = impl.bind_processor(conn.dialect)
    exact = datetime

    def process(value: Any) -> Any:
        if value is None:
            return None
        if type(value) is exact and value.tzinfo is None:
            return value.isoformat(" ", "microseconds")
        return slow(value)

    return process


def upsert(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert or update by primary key; unchanged rows are left alone (keep updated_at)."""
    pk = [c.name for c in table.primary_key.columns]

    def build(ins: Any, cols: list[str]) -> Any:
        changed = [c for c in cols if c not in pk and c != "updated_at"]
        return ins.on_conflict_do_update(
            index_elements=pk,
            set_={c: ins.excluded[c] for c in cols if c not in pk},
            where=or_(*[table.c[c].is_distinct_from(ins.excluded[c]) for c in changed]),
        )

    execute_many(conn, table, rows, "upsert", build)


def uniform_groups(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Split rows into groups with the same keys (one INSERT needs one column list)."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(tuple(r), []).append(r)
    return list(groups.values())


def mark_deleted(conn: Connection, table: Table, ids: list[str], now: datetime) -> None:
    """Flag the rows of objects Stripe deleted (their rows stay, marked)."""
    if ids:
        conn.execute(
            update(table)
            .where(table.c.id.in_(ids), table.c.deleted.is_(False))
            .values(deleted=True, updated_at=now)
        )
