"""The full recompute's worker processes (SQLite) give exactly the rows of the in-process
computation, across several chunks and with customers that have no lines."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from benchmarks.metrics import _digest, generate
from etl.config import load_settings
from etl.db.engine import make_engine
from etl.metrics import workers
from etl.metrics.recompute import full as rc
from etl.metrics.recompute import recompute


def test_workers_equal_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "m.db"
    generate(path, lines=3000, customers=150)
    engine = make_engine(f"sqlite:///{path}")
    # A customer with a refund but no lines is computed after the workers' customers.
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO customers (id, source, deleted, updated_at, currency) "
            "VALUES (9999, 'api', 0, '2024-01-01 00:00:00.000000', 'usd')"
        )
        conn.exec_driver_sql(
            "INSERT INTO refunds (id, customer_id, status, currency, amount, updated_at) "
            "VALUES ('re_1', 9999, 'succeeded', 'usd', 500, '2024-01-01 00:00:00.000000')"
        )
    settings = load_settings(database_url=f"sqlite:///{path}")
    as_of = datetime(2024, 12, 20)
    monkeypatch.setattr(workers, "CHUNK_CUSTOMERS", 7)  # 22 chunks over 2 workers
    rep = recompute(engine, settings, as_of=as_of, full=True)
    with_workers = _digest(path)
    monkeypatch.setattr(rc, "WORKERS", 0)
    rep0 = recompute(engine, settings, as_of=as_of, full=True)
    engine.dispose()
    assert _digest(path) == with_workers
    assert rep.customers == rep0.customers == 151
    assert (rep.lines, rep.customer_rows, rep.plan_rows, rep.snapshots) == (
        rep0.lines,
        rep0.customer_rows,
        rep0.plan_rows,
        rep0.snapshots,
    )
    assert rep.lines > 2000
