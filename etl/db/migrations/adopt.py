"""Adopting a database that `etl init-db` created before migrations existed.

Such a database has the baseline's tables but no `alembic_version`. It is brought to the
baseline the way that init-db would have done it (missing tables created, missing
columns added as nullable, views recreated), checked to be the baseline, and stamped
0001; the later revisions then run on it as on any other.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Connection,
    Date,
    DateTime,
    Integer,
    Numeric,
    String,
    inspect,
)

from etl.db.migrations import BASELINE_REVISION, stamp
from etl.db.migrations.baseline import baseline_columns, load_baseline
from etl.db.schema import sql_type  # the type names the old init-db added columns with
from etl.errors import EtlError


def is_pre_migration(conn: Connection, current: str | None) -> bool:
    """No revision recorded, yet some baseline table is there."""
    return current is None and bool(set(inspect(conn).get_table_names()) & set(baseline_columns()))


def adopt_pre_migration_database(conn: Connection) -> None:
    """Bring a pre-migration database to the baseline and stamp it; raises EtlError,
    changing nothing once the caller rolls back, if a column holds another type."""
    baseline = load_baseline(conn.dialect.name)
    for view in baseline.views:  # a view may read a column about to be added
        conn.exec_driver_sql(f"DROP VIEW IF EXISTS {view}")
    insp = inspect(conn)
    existing = set(insp.get_table_names())
    for table, expected in baseline_columns().items():
        if table not in existing:
            for stmt in baseline.tables[table]:
                conn.exec_driver_sql(stmt)
            continue
        have = {c["name"]: c["type"] for c in insp.get_columns(table)}
        for col in expected:
            if col.name not in have:
                # Added nullable, as before: existing rows have no value for it.
                ddl = f"ALTER TABLE {table} ADD COLUMN {col.name} {sql_type(col.type)}"
                conn.exec_driver_sql(ddl)
            elif type_family(have[col.name]) != type_family(col.type):
                raise EtlError(
                    f"the database is not one that `etl init-db` created: {table}.{col.name}"
                    f" is {have[col.name]}, not {col.type}; migrate it by hand"
                )
    for stmt in baseline.views.values():
        conn.exec_driver_sql(stmt)
    stamp(conn, BASELINE_REVISION)


def type_family(t: object) -> str:
    """What a column holds, alike on both dialects (DATETIME and TIMESTAMP are one)."""
    for cls, name in (
        (Boolean, "bool"),
        (BigInteger, "bigint"),
        (Integer, "int"),
        (DateTime, "timestamp"),
        (Date, "date"),
        (Numeric, "numeric"),
        (String, "text"),
    ):
        if isinstance(t, cls):
            return name
    return type(t).__name__
