"""Recompute against real databases: equals the pure engine, idempotent, incremental = full,
and the same rows on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import Engine, delete, select, update

from etl.config import Settings, load_settings
from etl.db import tables
from etl.db.engine import make_engine
from etl.db.models import JobRun
from etl.metrics.engine import Line, Params, compute_all
from etl.metrics.recompute import recompute
from etl.metrics.revenue import refresh_revenue_lines
from etl.periods import to_epoch
from tests.metrics import stripe_history

AS_OF = datetime(2024, 8, 20, 12)
TABLES = {
    "customer_plan_mrr": "customer_id, plan_id, month, currency",
    "customer_mrr": "customer_id, month, currency",
    "customer_snapshots": "customer_id",
    "mrr_monthly": "month, currency, basis",
    "mrr_by_plan": "month, plan_id, currency",
}


def settings_for(url: str, **kw: Any) -> Settings:
    return load_settings(database_url=url, **kw)


def dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    with engine.connect() as conn:
        for table, order in TABLES.items():
            rows = conn.exec_driver_sql(f"SELECT * FROM {table} ORDER BY {order}").all()
            out[table] = [tuple(str(v) if v is not None else None for v in r) for r in rows]
    return out


def typed_dump(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Rows through SQLAlchemy's types (dates as dates, booleans as bools) for cross-backend checks."""
    from etl.db.models import metadata

    out = {}
    with engine.connect() as conn:
        for table, order in TABLES.items():
            t = metadata.tables[table]
            cols = [t.c[c.strip()] for c in order.split(",")]
            out[table] = [dict(r._mapping) for r in conn.execute(select(t).order_by(*cols))]
    return out


def reference(engine: Engine, settings: Settings) -> Any:
    """The pure engine on the stored revenue lines (no subscriptions, refunds: compared on MRR)."""

    t = tables.revenue_lines
    with engine.connect() as conn:
        lines = [
            Line(
                r.customer_id,
                r.currency,
                r.plan_id,
                r.subscription_id,
                r.kind,
                r.net_amount,
                r.tax_amount,
                r.interval,
                r.interval_count,
                to_epoch(r.period_start) if r.period_start else None,
                to_epoch(r.period_end) if r.period_end else None,
                r.invoice_status,
                to_epoch(r.due_date) if r.due_date else None,
            )
            for r in conn.execute(select(t))
        ]
    return compute_all(
        lines,
        Params(
            to_epoch(AS_OF), settings.timezone, settings.include_tax, settings.past_due_grace_days
        ),
    )


def populate(engine: Engine, settings: Settings, seed: int) -> dict[str, Any]:
    with engine.begin() as conn:
        info = stripe_history.build(conn, seed)
        refresh_revenue_lines(conn, settings)
    return info


def mutate(engine: Engine, settings: Settings, info: dict[str, Any], seed: int) -> set[str]:
    """What a later sync does: statuses change, invoices disappear, lines change, new ones."""
    rnd = random.Random(seed + 1000)
    inv = tables.invoices
    lines = tables.invoice_lines
    touched = set(rnd.sample(info["invoices"], min(12, len(info["invoices"]))))
    with engine.begin() as conn:
        for i, inv_id in enumerate(sorted(touched)):
            if i % 4 == 0:
                conn.execute(delete(lines).where(lines.c.invoice_id == inv_id))
                conn.execute(delete(inv).where(inv.c.id == inv_id))
            elif i % 4 == 1:
                conn.execute(update(inv).where(inv.c.id == inv_id).values(status="void"))
            elif i % 4 == 2:
                conn.execute(update(inv).where(inv.c.id == inv_id).values(status="paid"))
            else:
                conn.execute(
                    update(lines)
                    .where(lines.c.invoice_id == inv_id)
                    .values(amount=lines.c.amount + 777)
                )
        refresh_revenue_lines(conn, settings, invoice_ids=touched)
    return touched


@pytest.mark.parametrize("seed", [1, 2])
def test_recompute_full_incremental_idempotent(engine: Engine, db_url: str, seed: int) -> None:
    settings = settings_for(db_url, past_due_grace_days=3)
    info = populate(engine, settings, seed)

    rep = recompute(engine, settings, as_of=AS_OF, full=True)
    assert rep.full and rep.customers > 0
    first = dump(engine)

    # The stored rows are the pure engine's rows (closed months: the reference is given no
    # subscriptions, so it has no waiting MRR in the current month).
    ref = reference(engine, settings)
    got = typed_dump(engine)
    current = AS_OF.date().replace(day=1)
    assert [
        (r["customer_id"], r["month"], r["currency"], r["mrr"], r["previous_mrr"], r["movement"])
        for r in got["customer_mrr"]
        if r["month"] < current
    ] == sorted((r[0], r[1], r[2], r[3], r[4], r[5]) for r in ref.customer_rows if r[1] < current)
    native = [r for r in got["mrr_monthly"] if r["basis"] == "native" and r["month"] < current]
    assert [(r["month"], r["currency"], r["lost_mrr"], r["new_mrr"]) for r in native] == sorted(
        (r["month"], r["currency"], r["lost_mrr"], r["new_mrr"])
        for r in ref.monthly
        if r["month"] < current
    )

    again = recompute(engine, settings, as_of=AS_OF)
    assert not again.full  # nothing changed: incremental, and nothing to do
    assert again.customers == 0 or dump(engine) == first
    assert dump(engine) == first
    recompute(engine, settings, as_of=AS_OF, full=True)
    assert dump(engine) == first

    mutate(engine, settings, info, seed)
    inc = recompute(engine, settings, as_of=AS_OF)
    assert not inc.full and 0 < inc.customers < info["customers"]
    incremental = dump(engine)
    recompute(engine, settings, as_of=AS_OF, full=True)
    assert dump(engine) == incremental
    assert incremental != first

    with engine.connect() as conn:
        runs = conn.execute(select(tables.job_runs).where(JobRun.job == "recompute")).all()
    assert [r.status for r in runs] == ["ok"] * 5


def test_changed_month_or_setting_forces_a_full_run(engine: Engine, db_url: str) -> None:
    settings = settings_for(db_url)
    populate(engine, settings, 3)
    assert recompute(engine, settings, as_of=AS_OF).full
    assert not recompute(engine, settings, as_of=AS_OF.replace(day=25)).full
    nxt = recompute(engine, settings, as_of=datetime(2024, 9, 2))
    assert nxt.full and "month" in nxt.reason
    taxed = recompute(engine, settings_for(db_url, include_tax=True), as_of=datetime(2024, 9, 2))
    assert taxed.full and "include_tax" in taxed.reason


def test_state_of_the_last_run_is_kept_in_recompute_state(engine: Engine, db_url: str) -> None:
    """The recompute remembers its last successful run in a table of its own (one row):
    pruning job_runs does not force a full run; losing that row does."""
    settings = settings_for(db_url)
    populate(engine, settings, 3)
    first = recompute(engine, settings, as_of=AS_OF)
    assert first.full and first.reason == "no earlier recompute"
    later = AS_OF.replace(day=25)
    assert not recompute(engine, settings, as_of=later).full
    with engine.connect() as conn:
        rows = conn.execute(select(tables.recompute_state)).mappings().all()
    assert len(rows) == 1
    state = rows[0]
    assert (state["as_of"], state["month"], state["full_run"]) == (
        later,
        AS_OF.date().replace(day=1),
        False,
    )
    assert (state["timezone"], state["include_tax"], state["past_due_grace_days"]) == (
        "UTC",
        False,
        0,
    )
    assert state["job_run_id"] is not None and state["started_at"] >= datetime(2024, 1, 1)
    with engine.begin() as conn:
        conn.execute(delete(tables.job_runs))
    assert not recompute(engine, settings, as_of=later).full
    with engine.begin() as conn:
        conn.execute(delete(tables.recompute_state))
    again = recompute(engine, settings, as_of=later)
    assert again.full and again.reason == "no earlier recompute"


@pytest.fixture
def both(
    tmp_path: Any, request: pytest.FixtureRequest
) -> Iterator[tuple[tuple[Engine, str], tuple[Engine, str]]]:
    import shutil
    import uuid

    from sqlalchemy import text

    from tests.conftest import _pg_admin, _pg_url

    sqlite_template = request.getfixturevalue("sqlite_template")
    pg_template = request.getfixturevalue("pg_template")
    path = tmp_path / "x.db"
    shutil.copyfile(sqlite_template, path)
    name = f"etl_test_{uuid.uuid4().hex[:12]}"
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"'))
    s_url, p_url = f"sqlite:///{path}", _pg_url(name)
    s_eng, p_eng = make_engine(s_url), make_engine(p_url)
    try:
        yield (s_eng, s_url), (p_eng, p_url)
    finally:
        s_eng.dispose()
        p_eng.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_sqlite_and_postgresql_give_identical_rows(both: Any) -> None:
    results = []
    for eng, url in both:
        settings = settings_for(url, timezone="Europe/Helsinki")
        populate(eng, settings, 5)
        recompute(eng, settings, as_of=AS_OF, full=True)
        rows = typed_dump(eng)
        for r in rows["customer_snapshots"]:
            r["as_of"] = r["as_of"].replace(tzinfo=None)
        results.append(rows)
    sqlite_rows, pg_rows = results
    assert sqlite_rows["customer_snapshots"] and sqlite_rows["mrr_by_plan"]
    for table in TABLES:
        assert sqlite_rows[table] == pg_rows[table], table


def test_concurrent_recomputes_serialize(engine: Engine, db_url: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    settings = settings_for(db_url)
    populate(engine, settings, 4)
    recompute(engine, settings, as_of=AS_OF, full=True)
    expected = dump(engine)
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = [
            pool.submit(recompute, engine, settings, as_of=AS_OF, full=(i % 2 == 0))
            for i in range(3)
        ]
        reports = [f.result() for f in futures]
    assert all(r.job_run_id for r in reports)
    assert dump(engine) == expected


def test_incremental_writes_only_changed_rows_and_equals_full(
    engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The incremental run diffs each changed customer's stored rows against the new ones and
    inserts, updates or deletes only those that differ (keys compared as the driver returns
    them: dates on PostgreSQL, ISO text on SQLite). At a later `as_of` of the same month the
    result, `as_of` of every snapshot included, equals a full run's."""
    from etl.metrics.recompute import incremental as rc

    settings = settings_for(db_url, past_due_grace_days=3)
    seen = {"insert": 0, "update": 0, "delete": 0}
    diff = rc.diff

    def spy(old: Any, new: Any, k: int) -> Any:
        ins, upd, gone = diff(old, new, k)
        seen["insert"] += len(ins)
        seen["update"] += len(upd)
        seen["delete"] += len(gone)
        return ins, upd, gone

    monkeypatch.setattr(rc, "diff", spy)
    info = populate(engine, settings, 1)
    recompute(engine, settings, as_of=AS_OF, full=True)
    for seed, day in ((1, 22), (2, 27)):
        mutate(engine, settings, info, seed)
        later = AS_OF.replace(day=day)
        inc = recompute(engine, settings, as_of=later)
        assert not inc.full and inc.customers > 0
        incremental = dump(engine)
        assert len({r[-1] for r in incremental["customer_snapshots"]}) == 1
        recompute(engine, settings, as_of=later, full=True)
        assert dump(engine) == incremental
    assert all(seen.values()), seen


def test_log_line_summarises_missing_rates() -> None:
    """The log gets a count and the first and last month per currency; the report (job_runs
    counts, API) keeps every month."""
    from datetime import date

    from etl.metrics.recompute import RecomputeReport

    months = [f"{y}-{m:02d}" for y in range(2020, 2025) for m in range(1, 13)]
    rep = RecomputeReport(full=True, reason="", as_of=AS_OF, month=date(2024, 8, 1))
    assert rep.missing_rates_summary() is None
    rep.missing_rates = {"gbp": ["2024-03"], "eur": months}
    assert rep.missing_rates_summary() == {
        "eur": "60 months (2020-01..2024-12)",
        "gbp": "1 month (2024-03)",
    }
    assert rep.counts()["missing_rates"]["eur"] == months


def test_aggregate_rows_replaced_by_difference(engine: Engine) -> None:
    """An incremental run writes only the aggregate rows that changed: gone ones deleted,
    changed ones updated, new ones inserted, equal ones left alone."""
    from datetime import date

    from etl.metrics.recompute import BYPLAN_KEY
    from etl.metrics.recompute import replace_changed as _replace_changed
    from etl.metrics.recompute import stored_aggregates as _stored_aggregates

    t = tables.mrr_by_plan
    sums = [c.name for c in t.columns if c.name not in (*BYPLAN_KEY, "plan_name")]

    def row(month: int, plan: str, mrr: int) -> dict[str, Any]:
        r: dict[str, Any] = dict.fromkeys(sums, 0)
        r.update(month=date(2024, month, 1), plan_id=plan, currency="usd", plan_name=plan)
        r.update(total_mrr=mrr, end_of_term_mrr=mrr)
        return r

    with engine.begin() as conn:
        conn.execute(t.insert(), [row(1, "a", 100), row(1, "b", 200), row(2, "a", 300)])
    with engine.begin() as conn:
        stored = _stored_aggregates(conn)["by_plan"]
        new = [row(1, "a", 100), row(2, "a", 301), row(3, "c", 5)]
        _replace_changed(conn, t, BYPLAN_KEY, stored, new)
    with engine.connect() as conn:
        got = [dict(r._mapping) for r in conn.execute(select(t).order_by(t.c.month, t.c.plan_id))]
    assert got == new


def test_full_run_in_batches_and_failures_leave_the_previous_rows(
    engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows written in many batches (on PostgreSQL by a writer thread while the next
    batch is computed) give the same tables; a failure while computing or while writing
    raises and leaves the previous run's rows as they were."""
    from etl.metrics.recompute import full as rc
    from etl.metrics.recompute import writer as rc_writer

    settings = settings_for(db_url)
    populate(engine, settings, 3)
    recompute(engine, settings, as_of=AS_OF, full=True)
    whole = dump(engine)
    monkeypatch.setattr(rc_writer, "FLUSH_ROWS", 40)
    recompute(engine, settings, as_of=AS_OF, full=True)
    assert dump(engine) == whole

    real_compute = rc.compute_customer
    calls = {"n": 0}

    def failing_compute(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 12:
            raise RuntimeError("boom while computing")
        return real_compute(*args, **kwargs)

    monkeypatch.setattr(rc, "compute_customer", failing_compute)
    monkeypatch.setattr(rc, "WORKERS", 0)  # SQLite computes in worker processes otherwise
    with pytest.raises(RuntimeError, match="boom while computing"):
        recompute(engine, settings, as_of=AS_OF, full=True)
    assert dump(engine) == whole
    monkeypatch.setattr(rc, "compute_customer", real_compute)

    real_write = rc.Writer._write
    writes = {"n": 0}

    def failing_write(self: Any, batch: Any) -> None:
        writes["n"] += 1
        if writes["n"] == 2:
            raise RuntimeError("boom while writing")
        real_write(self, batch)

    monkeypatch.setattr(rc.Writer, "_write", failing_write)
    with pytest.raises(RuntimeError, match="boom while writing"):
        recompute(engine, settings, as_of=AS_OF, full=True)
    assert dump(engine) == whole
    monkeypatch.setattr(rc.Writer, "_write", real_write)
    recompute(engine, settings, as_of=AS_OF, full=True)
    assert dump(engine) == whole
