"""Alembic's entry point, run by every migration command.

`etl init-db` hands its connection in (`config.attributes["connection"]`), so the
migrations run inside its transaction; the developer commands (`python -m
etl.db.migrations`) hand a URL in instead. The models are the target that autogenerate
compares the database with.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from etl.db import models
from etl.db.engine import make_engine

config = context.config


def _run(conn: Connection) -> None:
    context.configure(
        connection=conn,
        target_metadata=models.metadata,
        # SQLite alters a table by copying it; autogenerate writes batch operations for it.
        render_as_batch=conn.dialect.name == "sqlite",
        compare_type=True,
        on_version_apply=config.attributes.get("on_version_apply"),
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    if context.is_offline_mode():
        raise SystemExit("offline (--sql) migrations are not supported: run them on a database")
    conn = config.attributes.get("connection")
    if conn is not None:
        _run(conn)
        return
    engine = make_engine(config.attributes["url"])
    try:
        with engine.begin() as own:
            _run(own)
    finally:
        engine.dispose()


main()
