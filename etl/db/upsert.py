"""Bulk upsert: one INSERT … ON CONFLICT DO UPDATE per page of rows, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Table, or_
from sqlalchemy.dialects import postgresql, sqlite

# SQLite allows 32766 bound parameters per statement; stay well below.
_MAX_PARAMS = 30_000


def dialect_insert(conn: Connection, table: Table) -> Any:
    """INSERT with the dialect's ON CONFLICT clauses (PostgreSQL or SQLite)."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"bulk upsert is not supported on {conn.dialect.name}")


def upsert_rows(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    key: Iterable[str] | None = None,
    *,
    update: Iterable[str] | None = None,
    only_if_changed: Iterable[str] | None = None,
) -> int:
    """Insert rows, updating those whose key already exists.

    - `key`: the conflict columns (default: the primary key).
    - `update`: columns to overwrite on conflict (default: every column the rows carry
      except the key). An empty list means DO NOTHING.
    - `only_if_changed`: when given, a conflicting row is updated only if one of these
      columns differs, so unchanged objects keep their `updated_at`.
    Returns the number of rows sent.
    """
    if not rows:
        return 0
    key_cols = list(key) if key is not None else [c.name for c in table.primary_key.columns]
    columns = list(rows[0].keys())
    update_cols = [c for c in columns if c not in key_cols] if update is None else list(update)
    # One statement with bound parameters, executed for all rows (executemany): its
    # compiled form is cached, whereas a VALUES list of literal rows is compiled anew for
    # every page, which costs far more than the database's own work.
    changed = tuple(only_if_changed) if only_if_changed else ()
    cache_key = (
        conn.dialect.name,
        table.name,
        tuple(columns),
        tuple(key_cols),
        tuple(update_cols),
        changed,
    )
    stmt = _STATEMENTS.get(cache_key)
    if stmt is None:
        ins = dialect_insert(conn, table)
        if not update_cols:
            stmt = ins.on_conflict_do_nothing(index_elements=key_cols)
        else:
            excluded = ins.excluded
            where = None
            if changed:
                where = or_(*[table.c[c].is_distinct_from(excluded[c]) for c in changed])
            stmt = ins.on_conflict_do_update(
                index_elements=key_cols,
                set_={c: excluded[c] for c in update_cols},
                where=where,
            )
        _STATEMENTS[cache_key] = stmt
    conn.execute(stmt, [dict(r) for r in rows])
    return len(rows)


_STATEMENTS: dict[tuple[Any, ...], Any] = {}
