"""The frozen DDL of revision 0001: what `etl init-db` 0.1.0 created, per dialect.

It lives in `versions/0001_baseline.<dialect>.sql`, as SQLModel's create_all emitted it
for the 0.1.0 models, then the views: revision 0001 runs all of it, and the adoption of
a database from before migrations (etl.db.migrations.adopt) runs the part of the tables
it lacks. Frozen: later schema changes are new revisions, never edits here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from sqlalchemy import Column, MetaData, create_engine

from etl.db.migrations import MIGRATIONS_DIR


@dataclass
class Baseline:
    tables: dict[str, list[str]] = field(default_factory=dict)  # table -> its statements
    views: dict[str, str] = field(default_factory=dict)  # view -> CREATE VIEW


@cache
def load_baseline(dialect: str) -> Baseline:
    """The statements of the baseline on `dialect` (sqlite or postgresql), by object."""
    path = MIGRATIONS_DIR / "versions" / f"0001_baseline.{dialect}.sql"
    groups: dict[tuple[str, str], list[str]] = {}
    buf: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not buf and line.startswith(("-- table: ", "-- view: ")):
            kind, _, name = line.removeprefix("-- ").partition(": ")
            statements = groups.setdefault((kind, name), [])
        elif buf or (line.strip() and not line.startswith("--")):
            buf.append(line)
            if line.endswith(";"):  # every statement of the file ends a line with its `;`
                statements.append("\n".join(buf).removesuffix(";"))
                buf = []
    return Baseline(
        tables={name: s for (kind, name), s in groups.items() if kind == "table"},
        views={name: s[0] for (kind, name), s in groups.items() if kind == "view"},
    )


@cache
def baseline_columns() -> dict[str, list[Column]]:  # type: ignore[type-arg]
    """The baseline's columns per table, reflected from its SQLite DDL in memory."""
    engine = create_engine("sqlite://")
    try:
        with engine.begin() as conn:
            for stmts in load_baseline("sqlite").tables.values():
                for stmt in stmts:
                    conn.exec_driver_sql(stmt)
        meta = MetaData()
        meta.reflect(engine)
    finally:
        engine.dispose()
    return {t.name: list(t.columns) for t in meta.sorted_tables}
