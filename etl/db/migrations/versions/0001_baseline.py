"""Baseline: the schema `etl init-db` 0.1.0 created (tables, indexes, comments, views).

Runs the frozen DDL of `0001_baseline.<dialect>.sql` (see etl.db.migrations.baseline).
A database created by that init-db, before migrations existed, is stamped with this
revision instead of running it (etl.db.migrations.adopt).
"""

from __future__ import annotations

from alembic import op

from etl.db.migrations.baseline import load_baseline

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    baseline = load_baseline(conn.dialect.name)
    for statements in baseline.tables.values():
        for stmt in statements:
            conn.exec_driver_sql(stmt)
    for stmt in baseline.views.values():
        conn.exec_driver_sql(stmt)


def downgrade() -> None:
    # Views first: they read the tables. Tables in reverse order of their foreign keys.
    conn = op.get_bind()
    baseline = load_baseline(conn.dialect.name)
    for name in reversed(baseline.views):
        conn.exec_driver_sql(f"DROP VIEW {name}")
    for name in reversed(baseline.tables):
        conn.exec_driver_sql(f"DROP TABLE {name}")
