"""schema.sql describes exactly what the code creates, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.types import BigInteger, Boolean, Date, DateTime, Integer, Numeric, String

from etl.db import models
from etl.db.engine import make_engine
from etl.db.schema import init_db, render_schema_sql, split_statements
from etl.db.views import VIEWS

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_SQL = ROOT / "schema.sql"


def _family(t: object) -> str:
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


def _describe(url: str) -> dict[str, object]:
    eng = make_engine(url)
    try:
        insp = inspect(eng)
        tables = {}
        for name in insp.get_table_names():
            if name == "alembic_version":  # the migrations' bookkeeping, not the data model
                continue
            cols = insp.get_columns(name)
            pk = insp.get_pk_constraint(name)["constrained_columns"]
            tables[name] = {
                "columns": [(c["name"], _family(c["type"]), bool(c["nullable"])) for c in cols],
                "pk": sorted(pk),
                "indexes": sorted(
                    (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                    for i in insp.get_indexes(name)
                    if not i.get("duplicates_constraint")
                ),
            }
        views = {}
        for name in insp.get_view_names():
            views[name] = [c["name"] for c in insp.get_columns(name)]
        return {"tables": tables, "views": views}
    finally:
        eng.dispose()


def _nullable_normalized(desc: dict[str, object]) -> dict[str, object]:
    # SQLite reports primary-key columns as nullable unless NOT NULL is spelled out;
    # the primary key itself is compared separately.
    out = {}
    for name, t in desc["tables"].items():  # type: ignore[union-attr]
        pk = set(t["pk"])
        out[name] = {
            **t,
            "columns": [(n, f, False if n in pk else nl) for n, f, nl in t["columns"]],
        }
    return {"tables": out, "views": desc["views"]}


def test_schema_sql_is_generated_from_the_models() -> None:
    assert SCHEMA_SQL.read_text() == render_schema_sql(), (
        "schema.sql is stale: run `python -m etl.db.schema > schema.sql`"
    )


def test_every_table_and_column_is_commented() -> None:
    for table in models.metadata.sorted_tables:
        assert table.comment, f"table {table.name} has no comment"
        for col in table.columns:
            assert col.comment, f"column {table.name}.{col.name} has no comment"
    for view in VIEWS:
        assert view.comment
        assert all(view.columns.values()), view.name


@pytest.mark.parametrize("empty_db_url", ["sqlite", "postgresql"], indirect=True)
def test_schema_sql_creates_what_init_db_creates(empty_db_url: str, tmp_path: Path) -> None:
    # Database 1: the code's init_db.
    code_url = empty_db_url
    init_db(make_engine(code_url))
    by_code = _describe(code_url)

    # Database 2: schema.sql executed statement by statement.
    if code_url.startswith("sqlite"):
        doc_url = f"sqlite:///{tmp_path / 'doc.db'}"
        doc_engine = make_engine(doc_url)
    else:
        from sqlalchemy import create_engine

        from tests.conftest import PG_ADMIN_URL, _pg_url

        doc_name = code_url.rsplit("/", 1)[1] + "_doc"
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{doc_name}"'))
        doc_url = _pg_url(doc_name)
        doc_engine = make_engine(doc_url)
    try:
        with doc_engine.begin() as conn:
            for stmt in split_statements(SCHEMA_SQL.read_text()):
                conn.exec_driver_sql(stmt)
        by_doc = _describe(doc_url)
    finally:
        doc_engine.dispose()
        if not code_url.startswith("sqlite"):
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{doc_name}" WITH (FORCE)'))
            admin.dispose()

    assert set(by_code["tables"]) == {t.name for t in models.metadata.sorted_tables}  # type: ignore[arg-type]
    assert set(by_code["views"]) == {v.name for v in VIEWS}  # type: ignore[arg-type]
    assert _nullable_normalized(by_doc) == _nullable_normalized(by_code)
    for view in VIEWS:
        assert by_code["views"][view.name] == list(view.columns), view.name  # type: ignore[index]


@pytest.mark.parametrize("empty_db_url", ["sqlite", "postgresql"], indirect=True)
def test_init_db_is_idempotent(empty_db_url: str) -> None:
    eng = make_engine(empty_db_url)
    first = init_db(eng)
    assert len(first.created_tables) == len(models.metadata.sorted_tables)
    before = _describe(empty_db_url)
    second = init_db(eng)
    assert not second.changed
    assert _describe(empty_db_url) == before
    eng.dispose()


@pytest.mark.parametrize("empty_db_url", ["sqlite", "postgresql"], indirect=True)
def test_init_db_adds_a_missing_column_without_losing_rows(empty_db_url: str) -> None:
    eng = make_engine(empty_db_url)
    init_db(eng)
    with eng.begin() as conn:
        conn.execute(
            text("INSERT INTO fx_rates (currency, month, rate) VALUES ('eur', '2024-01-01', 1.1)")
        )
        conn.execute(text("DROP VIEW customer_overview"))
        conn.execute(text("ALTER TABLE customers DROP COLUMN state"))
        # As made by an init-db from before migrations: those are the databases that lack
        # a column (a migrated one gets its columns from the revisions).
        conn.execute(text("DROP TABLE alembic_version"))
    report = init_db(eng)
    assert report.added_columns == ["customers.state"]
    with eng.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM fx_rates")).scalar_one() == 1
    eng.dispose()


@pytest.mark.parametrize("empty_db_url", ["postgresql"], indirect=True)
def test_postgres_columns_carry_comments(empty_db_url: str) -> None:
    # PostgreSQL keeps comments in its catalogue (psql \d+); SQLite users have schema.sql.
    engine = make_engine(empty_db_url)
    init_db(engine)
    insp = inspect(engine)
    cols = {c["name"]: c.get("comment") for c in insp.get_columns("customers")}
    assert cols["email_key"] and "unique" in cols["email_key"]
    assert insp.get_table_comment("revenue_lines")["text"]
    engine.dispose()
