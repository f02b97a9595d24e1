"""Recorded schema migrations (alembic), shipped inside the package.

`etl init-db` runs them through `upgrade` below; `python -m etl.db.migrations revision`
writes a new one (docs/migrations.md). Alembic is configured here in code, so that an
installed package needs no alembic.ini: the scripts live next to this file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, inspect, text

if TYPE_CHECKING:
    # Lazy: alembic loads only when a migration runs (not for an up-to-date init-db).
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent
BASELINE_REVISION = "0001"

# Alembic is imported only when a migration runs: importing it costs more CPU than the
# rest of an init-db on an up-to-date database, which every daemon and job start does.


def alembic_config(connection: Connection | None = None, url: str | None = None) -> Config:
    """Alembic's configuration: run on `connection` (init-db's transaction), else on a
    new engine for `url` (the developer commands)."""
    # Lazy: alembic loads only when a migration runs (not for an up-to-date init-db).
    from alembic.config import Config  # noqa: PLC0415

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Revision ids are sequential numbers (0001, 0002, …): the file name starts with one.
    cfg.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    cfg.attributes["connection"] = connection
    cfg.attributes["url"] = url
    return cfg


def head_revision() -> str:
    """The latest revision: the highest number, as revisions form one line (0001, 0002, …;
    tests/test_migrations.py checks that alembic finds the same head)."""
    return max(p.name[:4] for p in (MIGRATIONS_DIR / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))


def current_revision(conn: Connection) -> str | None:
    """The revision recorded in the database; None before any (empty, or made by init-db
    before migrations existed)."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalars().first()


def upgrade(conn: Connection) -> list[str]:
    """Run the migrations the database lacks, in `conn`'s transaction; returns their ids."""
    if current_revision(conn) == head_revision():
        return []  # the common case (daemon and job starts): alembic is not even imported
    # Lazy: alembic loads only when a migration runs (not for an up-to-date init-db).
    from alembic import command  # noqa: PLC0415

    applied: list[str] = []

    def record(*, step: Any, **_: Any) -> None:
        applied.extend(step.up_revision_ids)

    cfg = alembic_config(conn)
    cfg.attributes["on_version_apply"] = record
    command.upgrade(cfg, "head")
    return applied


def stamp(conn: Connection, revision: str) -> None:
    """Record `revision` as applied without running it (adopting an existing schema)."""
    # Lazy: alembic loads only when a migration runs (not for an up-to-date init-db).
    from alembic import command  # noqa: PLC0415

    command.stamp(alembic_config(conn), revision)
