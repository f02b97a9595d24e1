"""Benchmark of the recompute: `python -m benchmarks.metrics --lines 1000000`.

Builds a SQLite file with about `--lines` revenue lines (`--customers` customers over
five years: monthly, quarterly and yearly plans, upgrades with proration lines, one-time
purchases, some unpaid invoices), then prints:

- the time of a plain SELECT of the same lines (the floor any recompute pays),
- the full recompute time, its ratio to the SELECT, and the process's peak memory,
- the incremental recompute time after a change to 1 % of the customers, as a share
  of the full time, and whether its result equals a fresh full recompute.

With `--postgres URL` the same lines are then copied into that PostgreSQL database
(dropped and created anew: give it a name of its own) and the full and incremental
recomputes are measured there too.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import resource
import sqlite3
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from etl.config import load_settings
from etl.db.engine import make_engine
from etl.db.schema import init_db
from etl.metrics.recompute import lines_sql, recompute
from etl.metrics.revenue import mark_dirty
from etl.periods import add_months

PLANS = [
    # id, amount, interval, count
    *[(f"m{a}", a * 100, "month", 1) for a in (9, 19, 29, 49, 79, 99, 149, 199, 299, 499)],
    *[(f"q{a}", a * 100, "month", 3) for a in (79, 249)],
    *[(f"y{a}", a * 100, "year", 1) for a in (99, 199, 499, 999)],
    *[(f"w{a}", a * 100, "week", 1) for a in (5,)],
]
TS = "%Y-%m-%d %H:%M:%S.%f"


def _ts(d: datetime) -> str:
    return d.strftime(TS)


def generate(path: Path, lines: int, customers: int, seed: int = 7) -> int:
    """Write customers, plans and revenue lines straight through sqlite3 (fast)."""
    if path.exists():
        path.unlink()
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{path}")
    init_db(engine)
    engine.dispose()
    rnd = random.Random(seed)
    now = _ts(datetime(2025, 1, 1))
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    db.executemany(
        "INSERT INTO plans (id, source, name, amount, currency, type, interval, interval_count, "
        "usage_type, active, deleted, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        [(p, "api", p, a, "usd", "recurring", i, c, "licensed", 1, 0, now) for p, a, i, c in PLANS],
    )
    db.executemany(
        "INSERT INTO customers (id, source, deleted, updated_at, currency) VALUES (?,?,?,?,?)",
        [(i, "api", 0, now, "usd" if i % 10 else "eur") for i in range(1, customers + 1)],
    )
    cols = (
        "customer_id, source, invoice_id, line_id, plan_id, subscription_id, kind, currency, "
        "amount, discount_amount, tax_amount, net_amount, quantity, interval, interval_count, "
        "period_start, period_end, invoice_status, due_date, paid_at, updated_at"
    )
    sql = f"INSERT INTO revenue_lines ({cols}) VALUES ({','.join('?' * 21)})"
    history = _History(rnd, lines / customers, now)
    for cid in range(1, customers + 1):
        history.customer(cid)
        if len(history.batch) >= 50_000:
            db.executemany(sql, history.batch)
            history.batch = []
    if history.batch:
        db.executemany(sql, history.batch)
    db.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.execute("ANALYZE")
    db.close()
    return history.lines


class _History:
    """Customers' revenue lines, made up from one random sequence (the same lines for the
    same seed: runs of the benchmark compare)."""

    START = datetime(2020, 1, 1)
    HORIZON = datetime(2025, 1, 1)

    def __init__(self, rnd: random.Random, per_customer: float, now: str) -> None:
        self.rnd = rnd
        self.per_customer = per_customer
        self.now = now
        self.batch: list[tuple[object, ...]] = []
        self.seq = 0  # invoice and line ids
        self.lines = 0

    def customer(self, cid: int) -> None:
        """One customer's lines: a subscription renewed period after period, with upgrades,
        one-time purchases, plan changes and the odd gap, until it has its share of lines."""
        rnd = self.rnd
        target = rnd.randint(1, max(1, int(2 * self.per_customer) - 1))
        plan = rnd.choice(PLANS[:10]) if rnd.random() < 0.85 else rnd.choice(PLANS)
        latest = max(1, 5 * 365 - 31 * target)  # start early enough for the lines to fit
        d = self.START + timedelta(days=rnd.randrange(0, latest), seconds=rnd.randrange(86400))
        made = 0
        while made < target and d < self.HORIZON:
            qty = 1 + (cid % 3 == 0) * rnd.randrange(0, 5)
            end = _period_end(d, plan)
            status = (
                "paid" if rnd.random() > 0.01 else rnd.choice(("open", "void", "uncollectible"))
            )
            made += self._renewal(cid, plan, qty, (d, end), status)
            r = rnd.random()
            if r < 0.03 and made < target:
                new = rnd.choice(PLANS[:10])
                if new[2] == "month" and new[3] == 1 and plan[2] == "month" and plan[3] == 1:
                    made += self._upgrade(cid, plan, new, qty, (d + (end - d) / 2, end))
                    plan = new
            elif r < 0.08:
                made += self._one_time(cid, d)
            elif r < 0.10:
                plan = rnd.choice(PLANS)
            if r > 0.995:
                d = add_months(end, rnd.randrange(1, 6))  # a gap: churn, then reactivation
            else:
                d = end
        self.lines += made

    def _ids(self) -> tuple[str, str]:
        self.seq += 1
        return f"in_{self.seq}", f"il_{self.seq}"

    def _renewal(
        self, cid: int, plan: Any, qty: int, period: tuple[datetime, datetime], status: str
    ) -> int:
        pid, amount, interval, count = plan
        d, end = period
        cur = "usd" if cid % 10 else "eur"
        net = amount * qty
        disc = net // 5 if cid % 7 == 0 else 0
        self.batch.append(
            (
                cid, "stripe", *self._ids(), pid, f"sub_{cid}", "subscription", cur,
                net, disc, 0, net - disc, qty, interval, count, _ts(d), _ts(end), status,
                _ts(d + timedelta(days=30)), _ts(d) if status == "paid" else None, self.now,
            )
        )  # fmt: skip
        return 1

    def _upgrade(
        self, cid: int, old: Any, new: Any, qty: int, period: tuple[datetime, datetime]
    ) -> int:
        """Upgrade half-way: credit for the old plan, charge for the new one."""
        mid, end = period
        cur = "usd" if cid % 10 else "eur"
        for sign, p2 in ((-1, old), (1, new)):
            v = sign * p2[1] * qty // 2
            self.batch.append(
                (
                    cid, "stripe", *self._ids(), p2[0], f"sub_{cid}", "proration",
                    cur, v, 0, 0, v, qty, "month", 1, _ts(mid), _ts(end), "paid",
                    None, _ts(mid), self.now,
                )
            )  # fmt: skip
        return 2

    def _one_time(self, cid: int, d: datetime) -> int:
        cur = "usd" if cid % 10 else "eur"
        self.batch.append(
            (
                cid, "stripe", *self._ids(), None, None, "one_time", cur,
                5000, 0, 0, 5000, 1, None, None, _ts(d), _ts(d), "paid", None, _ts(d), self.now,
            )
        )  # fmt: skip
        return 1


def _period_end(d: datetime, plan: Any) -> datetime:
    _, _, interval, count = plan
    if interval == "month":
        return add_months(d, count)
    if interval == "year":
        return add_months(d, 12 * count)
    return d + timedelta(weeks=count)


def _select_time(path: Path) -> tuple[float, float, int]:
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        sql = lines_sql(conn)
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None
        t = time.perf_counter()
        cpu = time.process_time()
        cur = dbapi.cursor()
        cur.execute(sql)
        rows = 0
        while batch := cur.fetchmany(20_000):
            rows += len(batch)
        elapsed = time.perf_counter() - t
        cpu = time.process_time() - cpu
        cur.close()
    engine.dispose()
    return elapsed, cpu, rows


_DIGESTED = (
    ("customer_plan_mrr", "customer_id, plan_id, month, currency"),
    ("customer_mrr", "customer_id, month, currency"),
    ("customer_snapshots", "customer_id"),
    ("mrr_monthly", "month, currency, basis"),
    ("mrr_by_plan", "month, plan_id, currency"),
)
_SNAPSHOT_COLS = (
    "customer_id, month, currency, current_mrr, current_subscription_count, "
    "total_contract_value, waiting_mrr"
)


def _digest(path: Path) -> str:
    db = sqlite3.connect(path)
    h = hashlib.sha256()
    for table, order in _DIGESTED:
        cols = _SNAPSHOT_COLS if table == "customer_snapshots" else "*"
        for row in db.execute(f"SELECT {cols} FROM {table} ORDER BY {order}"):
            h.update(repr(row).encode())
    db.close()
    return h.hexdigest()[:16]


def _peak_mb(who: int = resource.RUSAGE_SELF) -> float:
    rss = resource.getrusage(who).ru_maxrss
    return rss / 1024 if sys.platform != "darwin" else rss / 1024 / 1024


def _cpu() -> float:
    """CPU seconds of this process and its finished workers (the full recompute's)."""
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + ch.ru_utime + ch.ru_stime


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.metrics", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--customers", type=int, default=None, help="default: lines / 20")
    ap.add_argument("--db", type=Path, default=Path("bench_metrics.db"))
    ap.add_argument("--reuse", action="store_true", help="reuse an existing --db file")
    ap.add_argument("--no-verify", action="store_true", help="skip the incremental = full check")
    ap.add_argument(
        "--postgres",
        metavar="URL",
        default=None,
        help="also measure on PostgreSQL, in this database (DROPPED and created anew)",
    )
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    customers = args.customers or max(1, args.lines // 20)
    if not (args.reuse and args.db.exists()):
        t = time.perf_counter()
        n = generate(args.db, args.lines, customers)
        print(
            f"generated {n} revenue lines for {customers} customers in {time.perf_counter() - t:.1f}s -> {args.db}"
        )
    rss_before = _peak_mb()
    settings = load_settings(database_url=f"sqlite:///{args.db.resolve()}")
    engine = make_engine(settings.db_url)
    as_of = datetime(2024, 12, 20)

    sel, sel_cpu, rows = _select_time(args.db)
    print(
        f"plain SELECT of {rows} lines (same columns and order): {sel:.2f}s wall, {sel_cpu:.2f}s CPU"
    )
    # Wall times are taken around the whole call, its last commit included.
    cpu, t = _cpu(), time.perf_counter()
    rep = recompute(engine, settings, as_of=as_of, full=True)
    full_s = time.perf_counter() - t
    cpu = _cpu() - cpu
    print(
        f"full recompute: {full_s:.2f}s wall, {cpu:.2f}s CPU for {rep.lines} lines / "
        f"{rep.customers} customers ({rep.customer_rows} customer-months, {rep.plan_rows} "
        f"customer-plan-months); {full_s / sel:.1f}x the SELECT's wall time, "
        f"{cpu / sel_cpu:.1f}x its CPU time (CPU of all processes)"
    )
    print(
        f"peak memory (max RSS of the process): {_peak_mb():.0f} MB (before the run: {rss_before:.0f} MB); "
        f"largest child: {_peak_mb(resource.RUSAGE_CHILDREN):.0f} MB (an upper bound: it counts "
        "the parent's pages between fork and exec; a worker itself holds ~40 MB)"
    )

    # Change 1 % of the customers: every line of theirs gets 1 more cent.
    rnd = random.Random(11)
    changed = rnd.sample(range(1, customers + 1), max(1, customers // 100))
    later = as_of + timedelta(hours=6)
    inc_s, cpu_inc = _incremental_after_change(engine, settings, changed, later)
    print(
        f"incremental recompute after a change to {len(changed)} customers (1 %): "
        f"{inc_s:.3f}s wall = {100 * inc_s / full_s:.1f} % of the full time "
        f"({cpu_inc:.2f}s CPU = {100 * cpu_inc / cpu:.1f} %)"
    )
    if not args.no_verify:
        d_inc = _digest(args.db)
        recompute(engine, settings, as_of=later, full=True)
        d_full = _digest(args.db)
        print(f"incremental result equals a full recompute: {'yes' if d_inc == d_full else 'NO'}")
    engine.dispose()
    if args.postgres:
        _postgres(args.db, args.postgres, changed, as_of, verify=not args.no_verify)
    return 0


def _incremental_after_change(
    engine: Any, settings: Any, changed: list[int], later: datetime
) -> tuple[float, float]:
    """Every line of the `changed` customers gets 1 more cent; then an incremental run at
    `later` (the same day, as a scheduled run: every snapshot's as_of moves). Its wall
    time (the whole call, last commit included) and CPU time."""
    with engine.begin() as conn:
        ids = ",".join(map(str, changed))
        conn.exec_driver_sql(
            f"UPDATE revenue_lines SET net_amount = net_amount + 1, amount = amount + 1 WHERE customer_id IN ({ids})"
        )
        mark_dirty(conn, changed, datetime(2024, 12, 20, 1))
    cpu, t = _cpu(), time.perf_counter()
    inc = recompute(engine, settings, as_of=later)
    wall, cpu = time.perf_counter() - t, _cpu() - cpu
    assert not inc.full, inc.reason
    return wall, cpu


def _postgres(path: Path, url: str, changed: list[int], as_of: datetime, verify: bool) -> None:
    """The same measurements on PostgreSQL, the lines copied from the SQLite file."""
    import psycopg
    from sqlalchemy.engine import make_url

    target = make_url(url)
    name = target.database
    assert name, "--postgres needs a database name"
    admin_url = target.set(drivername="postgresql", database="postgres")
    with psycopg.connect(admin_url.render_as_string(hide_password=False), autocommit=True) as adm:
        adm.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        adm.execute(f'CREATE DATABASE "{name}"')
    engine = make_engine(url)
    init_db(engine)
    _copy_lines(path, engine)
    settings = load_settings(database_url=url)
    with engine.connect() as conn:
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None
        cur = dbapi.cursor()
        t, cpu = time.perf_counter(), time.process_time()
        cur.execute(lines_sql(conn))
        rows = len(cur.fetchall())
        sel, sel_cpu = time.perf_counter() - t, time.process_time() - cpu
        conn.rollback()
    print(f"PostgreSQL: plain SELECT of {rows} lines: {sel:.2f}s wall, {sel_cpu:.2f}s CPU")
    recompute(engine, settings, as_of=as_of, full=True)  # the rows a full run replaces
    cpu, t = _cpu(), time.perf_counter()
    rep = recompute(engine, settings, as_of=as_of, full=True)
    full_s, cpu = time.perf_counter() - t, _cpu() - cpu
    print(
        f"PostgreSQL full recompute (in-process, replacing the previous run's rows): "
        f"{full_s:.2f}s wall, {cpu:.2f}s CPU of this process for {rep.lines} lines; "
        f"{full_s / sel:.1f}x the SELECT's wall time"
    )
    later = as_of + timedelta(hours=6)
    inc_s, cpu_inc = _incremental_after_change(engine, settings, changed, later)
    print(
        f"PostgreSQL incremental recompute after a change to {len(changed)} customers: "
        f"{inc_s:.3f}s wall = {100 * inc_s / full_s:.1f} % of the full time "
        f"({cpu_inc:.2f}s CPU = {100 * cpu_inc / cpu:.1f} %)"
    )
    if verify:
        d_inc = _pg_digest(engine)
        recompute(engine, settings, as_of=later, full=True)
        same = d_inc == _pg_digest(engine)
        print(f"PostgreSQL incremental result equals a full recompute: {'yes' if same else 'NO'}")
    engine.dispose()


def _copy_lines(path: Path, engine: Any) -> None:
    """Customers, plans and revenue lines from the SQLite file into PostgreSQL (COPY)."""
    src = sqlite3.connect(path)
    with engine.begin() as conn:
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None
        cur = dbapi.cursor()
        for table in ("customers", "plans", "revenue_lines"):
            cols = [r[1] for r in src.execute(f"PRAGMA table_info({table})")]
            with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as cp:
                for row in src.execute(f"SELECT {', '.join(cols)} FROM {table}"):
                    cp.write_row(row)
        for table in ("customers", "revenue_lines"):
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    src.close()


def _pg_digest(engine: Any) -> str:
    h = hashlib.sha256()
    with engine.connect() as conn:
        for table, order in _DIGESTED:
            cols = _SNAPSHOT_COLS if table == "customer_snapshots" else "*"
            for row in conn.exec_driver_sql(f"SELECT {cols} FROM {table} ORDER BY {order}"):
                h.update(repr(tuple(row)).encode())
    return h.hexdigest()[:16]


if __name__ == "__main__":
    sys.exit(main())
