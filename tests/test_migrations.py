"""The recorded migrations: they build what the models describe, and `etl init-db`
carries a database of the previous release (0.1.0, before migrations) over to them
with its rows, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, text

from etl.db import models
from etl.db.engine import make_engine
from etl.db.migrations import MIGRATIONS_DIR, alembic_config, current_revision, head_revision
from etl.db.schema import init_db, split_statements
from etl.db.views import VIEWS
from tests.conftest import BACKENDS, fresh_db_url
from tests.test_schema import _describe, _nullable_normalized

ROOT = Path(__file__).resolve().parents[1]
PREVIOUS_SCHEMA = ROOT / "tests" / "fixtures" / "schema_0_1_0.sql"  # schema.sql of 0.1.0


def run_init_db(url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`etl init-db` as a user runs it, on this checkout's code."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ETL_", "STRIPE_"))}
    env.update(DATABASE_URL=url, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "etl", "init-db"],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )


def _build_previous_release(url: str) -> None:
    """A database as the 0.1.0 `etl init-db` left it, with a few rows."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            for stmt in split_statements(PREVIOUS_SCHEMA.read_text()):
                conn.exec_driver_sql(stmt)
            conn.execute(
                text(
                    "INSERT INTO customers (id, stripe_id, email, source, deleted, updated_at)"
                    " VALUES (7, 'cus_1', 'a@example.com', 'stripe', false, '2024-01-02')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO invoices (id, source, customer_id, status, currency, subtotal,"
                    " discount, tax, total, amount_due, amount_paid, lines_complete, updated_at)"
                    " VALUES ('in_1', 'manual', 7, 'paid', 'usd', 1000, 0, 0, 1000, 1000, 1000,"
                    " true, '2024-01-03')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO fx_rates (currency, month, rate) VALUES ('eur', '2024-01-01', 1.1)"
                )
            )
    finally:
        engine.dispose()


def _rows(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return [
                *conn.execute(text("SELECT id, stripe_id, email FROM customers")).all(),
                *conn.execute(text("SELECT id, customer_id, total FROM invoices")).all(),
                *conn.execute(text("SELECT currency, rate FROM fx_rates")).all(),
                *conn.execute(text("SELECT id, current_mrr FROM customer_overview")).all(),
            ]
    finally:
        engine.dispose()


@pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)
def test_init_db_upgrades_a_database_of_the_previous_release(
    empty_db_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    old_url = empty_db_url
    _build_previous_release(old_url)
    rows = _rows(old_url)

    first = run_init_db(old_url, tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("Schema upgraded:"), first.stdout
    upgraded = _describe(old_url)
    again = run_init_db(old_url, tmp_path)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "Schema is up to date."
    assert _describe(old_url) == upgraded

    backend = "sqlite" if old_url.startswith("sqlite") else "postgresql"
    with fresh_db_url(backend, tmp_path, request, "fresh") as fresh_url:
        fresh = _describe(fresh_url)
    assert _nullable_normalized(upgraded) == _nullable_normalized(fresh)
    assert "ix_invoices_source_id" in str(upgraded["tables"]["invoices"])  # type: ignore[index]
    assert _rows(old_url) == rows
    engine = make_engine(old_url)
    with engine.connect() as conn:
        assert current_revision(conn) == head_revision()
    engine.dispose()


def _view_sql(conn: Connection, name: str) -> str:
    if conn.dialect.name == "sqlite":
        sql = "SELECT sql FROM sqlite_master WHERE type = 'view' AND name = :n"
        return str(conn.execute(text(sql), {"n": name}).scalar_one())
    return str(conn.execute(text("SELECT pg_get_viewdef(:n)"), {"n": name}).scalar_one())


@pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)
def test_the_migrations_build_what_the_models_and_views_describe(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    init_db(engine)
    with engine.begin() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), models.metadata)
        assert diff == [], f"the models differ from the migrations: {diff}"
        # The views as etl/db/views.py writes them, put beside the migrated ones.
        for view in VIEWS:
            conn.exec_driver_sql(f"CREATE VIEW check_{view.name} AS\n{view.select}")
            expected = _view_sql(conn, f"check_{view.name}")
            if conn.dialect.name == "sqlite":
                expected = expected.replace(f"check_{view.name}", view.name, 1)
            assert _view_sql(conn, view.name) == expected, view.name
        conn.rollback()
    engine.dispose()


def test_a_previous_database_that_differs_is_refused_untouched(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'odd.db'}"
    _build_previous_release(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP VIEW customer_overview")
        conn.exec_driver_sql("ALTER TABLE customers DROP COLUMN state")
        conn.exec_driver_sql("ALTER TABLE customers ADD COLUMN state INTEGER")
    before = _describe(url)
    res = run_init_db(url, tmp_path)
    assert res.returncode == 1
    assert "customers.state" in res.stderr and "Traceback" not in res.stderr
    assert _describe(url) == before
    engine.dispose()


def test_every_revision_downgrades_and_upgrades_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'down.db'}"
    engine = make_engine(url)
    init_db(engine)
    fresh = _describe(url)
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    assert _describe(url) == {"tables": {}, "views": {}}
    report = init_db(engine)
    assert report.migrations[0] == "0001" and report.migrations[-1] == head_revision()
    assert _describe(url) == fresh
    engine.dispose()


def test_the_revisions_form_one_line_numbered_in_order() -> None:
    # head_revision() takes the highest number without loading alembic; this keeps it true.
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    revisions = list(reversed(list(script.walk_revisions())))
    assert [r.revision for r in revisions] == [f"{n:04d}" for n in range(1, len(revisions) + 1)]
    assert script.get_heads() == [head_revision()]
    for r in revisions:
        assert Path(r.path).name.startswith(f"{r.revision}_"), r.path


def test_the_installed_package_carries_the_migration_files() -> None:
    # A non-editable `pip install .` copies only what package-data names besides *.py.
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    package_data = config["tool"]["setuptools"]["package-data"]
    for path in MIGRATIONS_DIR.rglob("*"):
        if path.is_dir() or path.suffix in (".py", ".pyc") or "__pycache__" in path.parts:
            continue
        package = ".".join(path.parent.relative_to(ROOT).parts)
        patterns = package_data.get(package, [])
        assert any(fnmatch(path.name, p) for p in patterns), f"{path} is not in package-data"
