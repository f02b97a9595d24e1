"""Benchmark of the Stripe sync against the sandbox on loopback: prints the figures.

    python -m benchmarks.sync [--customers 10000] [--months 36] [--rate-limit 25]

The sandbox is generated and served by this process; each sync runs as a real
`etl sync` subprocess (so it has its own interpreter and its memory is its own) into
a fresh SQLite file. Figures printed, one JSON line each:
- full load without rate limit: objects, requests, requests per 100 objects, objects/s,
  peak RSS of the sync process;
- incremental sync of the unchanged account: requests made;
- full load with `--rate-limit R` (on a smaller account, default 1/5 of the
  customers): request rate achieved and its share of R.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any


def run_etl(
    args: list[str], *, db: Path, base_url: str, extra_env: dict[str, str] | None = None
) -> dict[str, Any]:
    """`etl …` in a subprocess; adds wall time, CPU seconds and peak RSS of that process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    summary = _run_etl(args, db=db, base_url=base_url, extra_env=extra_env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    summary["cpu_s"] = round(
        (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 2
    )
    return summary


def _run_etl(
    args: list[str], *, db: Path, base_url: str, extra_env: dict[str, str] | None = None
) -> dict[str, Any]:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{db}",
        "STRIPE_API_KEY": "sk_test_benchmark",
        "STRIPE_API_BASE": base_url,
        "ETL_LOG_LEVEL": "warning",
        **(extra_env or {}),
    }
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "etl", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stop = threading.Event()
    peak: list[float] = []
    tree: dict[int, float] = {}
    watcher = threading.Thread(target=_watch_hwm, args=(proc.pid, stop, peak, tree), daemon=True)
    watcher.start()
    out, err = proc.communicate()
    wall = time.monotonic() - t0
    stop.set()
    watcher.join()
    # communicate() reaped the child; its resource usage is in RUSAGE_CHILDREN deltas.
    if proc.returncode != 0:
        raise SystemExit(f"etl {' '.join(args)} failed ({proc.returncode}): {err.strip()[-2000:]}")
    summary: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    summary["wall_s"] = round(wall, 2)
    summary["peak_rss_mb"] = round(max(peak), 1) if peak else None
    # An upper bound of the peak of the sum: each process's own peak, added up.
    summary["peak_rss_mb_with_workers"] = round(max(peak, default=0.0) + sum(tree.values()), 1)
    return summary


def _requests_by_path(before: dict[str, Any], after: dict[str, Any]) -> dict[str, int]:
    """Requests served per path template between two `/_sandbox/stats` readings."""
    out: dict[str, int] = {}
    for path, counts in after["by_path"].items():
        old = before["by_path"].get(path, {})
        n = sum(counts.values()) - sum(old.values())
        if n:
            out[path] = n
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def _watch_hwm(pid: int, stop: threading.Event, out: list[float], tree: dict[int, float]) -> None:
    """The process's own high-water mark of resident memory (VmHWM, reset at exec) into
    `out`, and each of its child processes' (the page-preparing workers) into `tree`."""
    while not stop.is_set():
        hwm = _hwm_mb(pid)
        if hwm is None:
            return
        out.append(hwm)
        try:
            kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            kids = []
        for k in map(int, kids):
            got = _hwm_mb(k)
            if got is not None:
                tree[k] = max(tree.get(k, 0.0), got)
        stop.wait(0.05)


def _hwm_mb(pid: int) -> float | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--customers", type=int, default=10_000)
    p.add_argument("--months", type=int, default=36)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--workers", type=int, default=8)
    p.add_argument("--rate-limit", type=float, default=25.0)
    p.add_argument(
        "--rate-customers",
        type=int,
        default=None,
        help="customers of the rate-limited run (default: customers / 5)",
    )
    p.add_argument("--skip-rate", action="store_true", help="skip the rate-limited run")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    a = _parse(argv)
    from etl.logs import configure_logging
    from etl.sandbox.server.app import SandboxServer
    from etl.sandbox.simulation.generator import generate_account

    configure_logging("warning", "json")
    tmp = Path(tempfile.mkdtemp(prefix="etl-sync-bench-"))
    t0 = time.monotonic()
    acct = generate_account(seed=a.seed, customers=a.customers, months=a.months)
    gen_s = time.monotonic() - t0
    with SandboxServer(acct) as srv:
        db = _fresh_db(tmp, "full")
        _print(_full_load(a, srv, db, gen_s))
        _print(_incremental(srv, db))
    if a.skip_rate:
        return 0
    n = a.rate_customers or max(100, a.customers // 5)
    acct = generate_account(seed=a.seed, customers=n, months=a.months)
    with SandboxServer(acct, rate_limit=a.rate_limit) as srv:
        _print(_rate_limited(a, srv, _fresh_db(tmp, "rate"), n))
    return 0


def _print(figure: dict[str, Any]) -> None:
    print(json.dumps(figure), flush=True)


def _fresh_db(tmp: Path, name: str) -> Path:
    from etl.db.engine import make_engine
    from etl.db.schema import init_db

    path = tmp / f"{name}.db"
    eng = make_engine(f"sqlite:///{path}")
    init_db(eng)
    eng.dispose()
    return path


def _full_load(a: argparse.Namespace, srv: Any, db: Path, gen_s: float) -> dict[str, Any]:
    """The full load without rate limit: its figures."""
    assert srv.base_url is not None
    before_stats = srv.stats()
    full = run_etl(
        ["sync", "--no-rate-limit", "--no-recompute", "--no-progress", f"--workers={a.workers}"],
        db=db,
        base_url=srv.base_url,
    )
    after_stats = srv.stats()
    served = after_stats["total"] - before_stats["total"]
    lines = _count(db, "invoice_lines")
    # Objects that came from Stripe's lists: the summary also counts the customer
    # stubs a full load infers for deleted customers, which cost no request.
    objects = _count(db, "raw_objects", "source = 'list'")
    return {
        "figure": "full load, no rate limit, into SQLite",
        "customers": a.customers,
        "months": a.months,
        "generate_s": round(gen_s, 1),
        "objects": objects,
        "inferred_deleted_customers": full["objects"] - objects,
        "invoice_lines": lines,
        "requests": served,
        "requests_per_100_objects": round(100 * served / max(1, objects), 3),
        "requests_per_100_objects_and_lines": round(100 * served / max(1, objects + lines), 3),
        "objects_per_s": round(objects / full["wall_s"], 1),
        "objects_and_lines_per_s": round((objects + lines) / full["wall_s"], 1),
        "wall_s": full["wall_s"],
        "cpu_s_of_sync_process": full["cpu_s"],
        "objects_per_cpu_s": round(objects / max(0.01, full["cpu_s"]), 1),
        "peak_rss_mb": full["peak_rss_mb"],
        "peak_rss_mb_with_workers": full["peak_rss_mb_with_workers"],
        "requests_by_path": _requests_by_path(before_stats, after_stats),
    }


def _incremental(srv: Any, db: Path) -> dict[str, Any]:
    """An incremental sync of the account just loaded (unchanged): requests made."""
    before = srv.stats()["total"]
    inc = run_etl(
        ["sync", "--no-rate-limit", "--no-recompute", "--no-progress"],
        db=db,
        base_url=srv.base_url,
    )
    return {
        "figure": "incremental sync of the unchanged account",
        "kind": inc["kind"],
        "requests": srv.stats()["total"] - before,
        "objects_written": inc["objects"],
        "wall_s": inc["wall_s"],
    }


def _rate_limited(a: argparse.Namespace, srv: Any, db: Path, customers: int) -> dict[str, Any]:
    """A full load with `--rate-limit`: the request rate achieved, against the allowed."""
    assert srv.base_url is not None
    limited = run_etl(
        [
            "sync",
            f"--rate-limit={a.rate_limit}",
            "--no-recompute",
            "--no-progress",
            f"--workers={a.workers}",
        ],
        db=db,
        base_url=srv.base_url,
    )
    stats = srv.stats()
    served = stats["total"]
    rate = served / limited["duration_s"]
    return {
        "figure": f"full load with --rate-limit {a.rate_limit:g}",
        "customers": customers,
        "objects": limited["objects"],
        "requests": served,
        "server_429s": stats.get("rate_limited", 0),
        "duration_s": limited["duration_s"],
        "requests_per_s": round(rate, 2),
        "share_of_allowed_rate": round(rate / a.rate_limit, 3),
    }


def _count(db: Path, table: str, where: str = "1 = 1") -> int:
    import sqlite3

    with sqlite3.connect(db) as conn:
        # S608: a table name and a predicate, both literals of this benchmark; no values.
        sql = f"SELECT count(*) FROM {table} WHERE {where}"  # noqa: S608
        return int(conn.execute(sql).fetchone()[0])


if __name__ == "__main__":
    raise SystemExit(main())
