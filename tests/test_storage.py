"""Engines, transactions and the bulk upsert, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select, text

from etl.db import tables
from etl.db.engine import transaction
from etl.db.upsert import upsert_rows

NOW = datetime(2026, 1, 1, tzinfo=UTC).replace(tzinfo=None)


def _plan(pid: str, amount: int, when: datetime = NOW) -> dict[str, object]:
    return {
        "id": pid,
        "source": "stripe_price",
        "product_id": None,
        "name": pid,
        "amount": amount,
        "currency": "usd",
        "type": "recurring",
        "interval": "month",
        "interval_count": 1,
        "usage_type": "licensed",
        "tax_behavior": None,
        "active": True,
        "metadata_json": None,
        "deleted": False,
        "created": when,
        "updated_at": when,
    }


def test_upsert_inserts_then_updates_in_one_statement_per_page(engine: Engine) -> None:
    rows = [_plan(f"price_{i}", i * 100) for i in range(250)]
    with transaction(engine) as conn:
        assert upsert_rows(conn, tables.plans, rows) == 250
    changed = [_plan(f"price_{i}", 1) for i in range(0, 250, 2)]
    with transaction(engine) as conn:
        upsert_rows(conn, tables.plans, changed)
    with engine.connect() as conn:
        amounts = dict(conn.execute(select(tables.plans.c.id, tables.plans.c.amount)).all())
    assert len(amounts) == 250
    assert amounts["price_0"] == 1 and amounts["price_2"] == 1
    assert amounts["price_1"] == 100 and amounts["price_249"] == 24900


def test_upsert_only_if_changed_keeps_updated_at(engine: Engine) -> None:
    later = datetime(2026, 2, 1)
    with transaction(engine) as conn:
        upsert_rows(conn, tables.plans, [_plan("a", 100), _plan("b", 200)])
    with transaction(engine) as conn:
        upsert_rows(
            conn,
            tables.plans,
            [_plan("a", 100, later), _plan("b", 300, later)],
            only_if_changed=["amount", "name", "deleted"],
        )
    with engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(select(tables.plans))}
    assert rows["a"].updated_at == NOW
    assert rows["b"].updated_at == later and rows["b"].amount == 300


def test_upsert_do_nothing_and_custom_key(engine: Engine) -> None:
    base = {
        "stripe_id": "cus_1",
        "extra_id": None,
        "email": "A@x.io",
        "email_key": "a@x.io",
        "name": "A",
        "currency": "usd",
        "country": "US",
        "state": "OH",
        "metadata_json": None,
        "source": "stripe",
        "deleted": False,
        "created": NOW,
        "updated_at": NOW,
    }
    with transaction(engine) as conn:
        upsert_rows(conn, tables.customers, [base], key=["stripe_id"])
        upsert_rows(conn, tables.customers, [{**base, "name": "B"}], key=["stripe_id"], update=[])
        upsert_rows(conn, tables.customers, [{**base, "name": "C"}], key=["stripe_id"])
    with engine.connect() as conn:
        names = conn.execute(select(tables.customers.c.id, tables.customers.c.name)).all()
    assert [n for _, n in names] == ["C"]
    assert isinstance(names[0][0], int)


def _write_a_plan_then_fail(engine: Engine) -> None:
    with transaction(engine) as conn:
        upsert_rows(conn, tables.plans, [_plan("x", 1)])
        raise RuntimeError("boom")


def test_transaction_rolls_back_everything_on_error(engine: Engine) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        _write_a_plan_then_fail(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM plans")).scalar_one() == 0


def test_email_is_unique_case_insensitively(engine: Engine) -> None:
    from sqlalchemy.exc import IntegrityError

    row = {
        "email": "Jo@Example.com",
        "email_key": "jo@example.com",
        "source": "api",
        "deleted": False,
        "updated_at": NOW,
    }
    with transaction(engine) as conn:
        conn.execute(tables.customers.insert().values(**row))
    with pytest.raises(IntegrityError), transaction(engine) as conn:
        conn.execute(tables.customers.insert().values(**{**row, "email": "jo@example.COM"}))


def test_sqlite_pragmas(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from etl.db.engine import make_engine

    eng = make_engine(f"sqlite:///{tmp_path / 'p.db'}")
    with eng.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    eng.dispose()


def test_sqlite_readers_do_not_wait_for_a_writer(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import time

    from etl.db.engine import make_engine, read_connection
    from etl.db.schema import init_db

    eng = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    init_db(eng)
    with transaction(eng) as conn:
        upsert_rows(conn, tables.plans, [_plan("a", 100)])
    writer = eng.connect()
    writer.begin()
    writer.execute(text("UPDATE plans SET amount = 5"))  # holds the write lock, uncommitted
    try:
        started = time.monotonic()
        with read_connection(eng) as reader:
            # Under WAL the reader sees the last committed state at once.
            assert reader.execute(text("SELECT amount FROM plans")).scalar_one() == 100
        assert time.monotonic() - started < 5
    finally:
        writer.rollback()
        writer.close()
        eng.dispose()
