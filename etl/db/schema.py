"""Creating and upgrading the schema, and rendering `schema.sql` from the models.

`init_db` runs the recorded migrations (etl/db/migrations, docs/migrations.md).
`python -m etl.db.schema` prints the documented DDL; a test keeps the committed
`schema.sql` equal to it and proves, on SQLite and PostgreSQL, that executing it
yields exactly the tables, columns and views that `init_db` creates.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Connection,
    Date,
    DateTime,
    Engine,
    Integer,
    Numeric,
    String,
    Text,
    inspect,
)
from sqlalchemy.schema import Table, UniqueConstraint

from etl.db import models
from etl.db.views import VIEWS

HEADER = """\
-- schema.sql — every table and view of the Stripe metrics pipeline.
--
-- Generated from the models in etl/db/models/ and etl/db/views.py by
--     python -m etl.db.schema > schema.sql
-- and kept equal to what `etl init-db` creates by tests/test_schema.py, on SQLite
-- and PostgreSQL. The DDL runs on both.
--
-- Conventions: money is an integer in the currency's smallest unit (cents);
-- timestamps are UTC; `month` columns hold the first day of the month in the
-- reporting time zone (ETL_TIMEZONE); currencies are lower-case ISO codes;
-- *_json columns hold JSON text.
"""


@dataclass
class InitReport:
    created_tables: list[str] = field(default_factory=list)
    added_columns: list[str] = field(default_factory=list)
    views: list[str] = field(default_factory=list)  # views created or recreated
    migrations: list[str] = field(default_factory=list)  # revisions applied
    revision: str | None = None  # the database's revision afterwards

    @property
    def changed(self) -> bool:
        return bool(self.created_tables or self.added_columns or self.migrations)


def init_db(engine: Engine) -> InitReport:
    """Bring the database to the latest migration (`alembic upgrade head`), in one
    transaction; a database from before migrations is adopted first. Safe to repeat."""
    # Imported here: rendering schema.sql needs no alembic, and adopt imports sql_type.
    from etl.db import migrations  # noqa: PLC0415
    from etl.db.migrations.adopt import adopt_pre_migration_database, is_pre_migration  # noqa: PLC0415

    with engine.begin() as conn:
        had_tables, had_views = _shape(conn)
        adopted = is_pre_migration(conn, migrations.current_revision(conn))
        if adopted:
            adopt_pre_migration_database(conn)
        applied = migrations.upgrade(conn)
        tables, views = _shape(conn)
        revision = migrations.current_revision(conn)
    return InitReport(
        created_tables=[t for t in tables if t not in had_tables],
        added_columns=[
            f"{t}.{c}"
            for t in had_tables
            if t in tables
            for c in tables[t]
            if c not in had_tables[t]
        ],
        views=[v for v in views if adopted or v not in had_views],
        migrations=applied,
        revision=revision,
    )


def _shape(conn: Connection) -> tuple[dict[str, list[str]], list[str]]:
    """The columns of each table (migration bookkeeping aside) and the views."""
    insp = inspect(conn)
    columns = {
        name: [c["name"] for c in cols]
        for (_schema, name), cols in insp.get_multi_columns().items()
        if name != "alembic_version"
    }
    return columns, insp.get_view_names()


# Types without parameters, each before its base class (a BigInteger is an Integer, a
# Text a String): the first match names the type.
_FIXED_SQL_TYPES: tuple[tuple[type[Any], str], ...] = (
    (BigInteger, "BIGINT"),
    (Integer, "INTEGER"),
    (Boolean, "BOOLEAN"),
    (DateTime, "TIMESTAMP"),
    (Date, "DATE"),
    (Text, "TEXT"),
)


def sql_type(t: Any) -> str:
    """A type name that SQLite and PostgreSQL both accept and reflect alike."""
    for sa_type, name in _FIXED_SQL_TYPES:
        if isinstance(t, sa_type):
            return name
    if isinstance(t, Numeric):
        return f"NUMERIC({t.precision}, {t.scale})"
    if isinstance(t, String):
        return f"VARCHAR({t.length})" if t.length else "TEXT"
    raise TypeError(f"no portable SQL type for {t!r}")


def _table_ddl(table: Table) -> str:
    pk = [c.name for c in table.primary_key.columns]
    lines: list[tuple[str, str]] = []
    for col in table.columns:
        parts = [f"{col.name} {sql_type(col.type)}"]
        if len(pk) == 1 and col.name == pk[0]:
            parts.append("PRIMARY KEY")
        elif not col.nullable:
            parts.append("NOT NULL")
        if col.unique:
            parts.append("UNIQUE")
        for fk in col.foreign_keys:
            ref = f"REFERENCES {fk.column.table.name} ({fk.column.name})"
            if fk.ondelete:
                ref += f" ON DELETE {fk.ondelete}"
            parts.append(ref)
        lines.append((" ".join(parts), col.comment or ""))
    extra: list[str] = []
    if len(pk) > 1:
        extra.append(f"PRIMARY KEY ({', '.join(pk)})")
    for cons in sorted(table.constraints, key=lambda c: str(c.name or "")):
        if isinstance(cons, UniqueConstraint) and len(cons.columns) > 1:
            cols = ", ".join(c.name for c in cons.columns)
            extra.append(f"CONSTRAINT {cons.name} UNIQUE ({cols})")
    body: list[str] = []
    items = [(d, c) for d, c in lines] + [(e, "") for e in extra]
    for i, (ddl, comment) in enumerate(items):
        sep = "," if i < len(items) - 1 else ""
        body.append(f"    {ddl}{sep}" + (f"  -- {comment}" if comment else ""))
    out = [f"-- {table.comment}", f"CREATE TABLE {table.name} (", *body, ");"]
    for idx in sorted(table.indexes, key=lambda i: i.name or ""):
        cols = ", ".join(c.name for c in idx.columns)
        unique = "UNIQUE " if idx.unique else ""
        out.append(f"CREATE {unique}INDEX {idx.name} ON {table.name} ({cols});")
    return "\n".join(out)


def _view_ddl(view: Any) -> str:
    cols = "\n".join(f"--   {name}: {comment}" for name, comment in view.columns.items())
    return f"-- {view.comment}\n-- Columns:\n{cols}\nCREATE VIEW {view.name} AS\n{view.select};"


def render_schema_sql() -> str:
    parts = [
        HEADER,
        *(_table_ddl(table) for table in models.metadata.sorted_tables),
        "-- ---------------------------------------------------------------- views",
        *(_view_ddl(view) for view in VIEWS),
    ]
    return "\n\n".join(parts) + "\n"


def split_statements(sql: str) -> list[str]:
    """Statements of a schema.sql-style script (one `;` at the end of a line ends one)."""
    stmts: list[str] = []
    buf: list[str] = []
    for line in sql.splitlines():
        if line.lstrip().startswith("--") and not buf:
            continue
        buf.append(line)
        if line.rstrip().endswith(";"):
            stmt = "\n".join(buf).strip().rstrip(";")
            buf = []
            if stmt:
                stmts.append(stmt)
    return stmts


if __name__ == "__main__":
    sys.stdout.write(render_schema_sql())
