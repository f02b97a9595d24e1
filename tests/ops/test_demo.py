"""`etl demo`: the whole pipeline in one command, in an empty directory, nothing configured."""

from __future__ import annotations

import json
import queue
import re
import signal
import subprocess
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from etl.db.engine import make_engine
from etl.report.scene import money
from tests.ops.chromium import chromium_path, render
from tests.ops.helpers import ETL, etl_env
from tests.ops.test_chart import read_png

MONTH_ROW = re.compile(r"^│ (\d{4}-\d{2})(\*?) +│ +([\d,.-]+) │")


@pytest.mark.slow
def test_demo_no_serve_end_to_end(tmp_path: Path) -> None:
    env = etl_env(tmp_path, "sqlite:///should-not-be-used.db")
    env.pop("DATABASE_URL")  # "with nothing configured"
    r = subprocess.run(
        [*ETL, "demo", "--no-serve"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    db = tmp_path / "etl-demo.db"
    assert db.is_file()
    assert not (tmp_path / "etl.db").exists()  # the demo never touches the configured DB

    engine = make_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        n_customers = conn.execute(text("SELECT count(*) FROM customers")).scalar_one()
        monthly = conn.execute(
            text(
                "SELECT month, mrr, is_current FROM mrr_monthly "
                "WHERE basis = 'reporting' AND currency = 'usd' ORDER BY month"
            )
        ).all()
        jobs = conn.execute(text("SELECT job, status FROM job_runs ORDER BY id")).all()
        natives = conn.execute(
            text("SELECT count(DISTINCT currency) FROM mrr_monthly WHERE basis = 'native'")
        ).scalar_one()
    engine.dispose()
    assert n_customers == 300
    assert len(monthly) >= 12 and natives == 3
    assert [tuple(j) for j in jobs] == [("sync", "ok"), ("recompute", "ok")]
    now = datetime.now(UTC)
    assert monthly[-1].is_current and str(monthly[-1].month)[:7] == f"{now:%Y-%m}"

    # The terminal table: the last 12 months, with the stored MRR of each.
    rows = [m for m in (MONTH_ROW.match(line) for line in r.stdout.splitlines()) if m]
    assert len(rows) == 12, r.stdout
    expected = monthly[-12:]
    assert [m.group(1) for m in rows] == [str(e.month)[:7] for e in expected]
    assert [m.group(3) for m in rows] == [money(e.mrr, "usd") for e in expected]
    assert [m.group(2) for m in rows] == [""] * 11 + ["*"]

    # The picture next to the database, and the same chart as a page.
    png = tmp_path / "etl-demo-mrr.png"
    w, h, _ = read_png(png.read_bytes())
    assert (w, h) == (2000, 1160)
    page = (tmp_path / "etl-demo-mrr.html").read_text()
    assert "<svg" in page and money(monthly[-2].mrr, "usd") in page

    # What it printed points at things that exist, and `etl status` agrees.
    assert str(png) in r.stdout
    st = subprocess.run(
        [*ETL, "status", "--json"],
        cwd=tmp_path,
        env={**env, "DATABASE_URL": f"sqlite:///{db}"},
        capture_output=True,
        text=True,
    )
    assert st.returncode == 0, st.stderr
    status = json.loads(st.stdout)
    assert status["jobs"]["sync"]["last"]["status"] == "ok"
    assert status["last_successful_sync"] and status["last_successful_recompute"]
    assert status["counts"]["customers"] == 300
    reporting = [m for m in status["current_mrr"] if m["basis"] == "reporting"]
    assert reporting and reporting[0]["mrr"] == monthly[-1].mrr

    # Run again: the demo rebuilds its own database instead of failing or mixing.
    again = subprocess.run(
        [*ETL, "demo", "--no-serve", "--customers", "20", "--months", "3"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0, again.stderr
    engine = make_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM customers")).scalar_one() == 20
    engine.dispose()


def test_demo_refuses_to_overwrite_a_database_it_did_not_make(tmp_path: Path) -> None:
    mine = tmp_path / "precious.db"
    mine.write_bytes(b"not yours")
    env = etl_env(tmp_path, "sqlite:///etl.db")
    r = subprocess.run(
        [*ETL, "demo", "--no-serve", "--db", str(mine)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2
    assert r.stderr.startswith("etl: error:") and "already exists" in r.stderr
    assert mine.read_bytes() == b"not yours"


def _reader(proc: subprocess.Popen[str], lines: queue.Queue[str]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.put(line)


@pytest.mark.slow
def test_demo_serves_the_api_with_a_printed_key_until_interrupted(tmp_path: Path) -> None:
    env = etl_env(tmp_path, "sqlite:///etl.db")
    proc = subprocess.Popen(
        [*ETL, "demo", "--customers", "60", "--months", "8", "--port", "0"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_reader, args=(proc, lines), daemon=True).start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 240
        while not any("OpenAPI:" in line for line in seen):
            assert time.monotonic() < deadline, "".join(seen)
            assert proc.poll() is None, "".join(seen)
            try:
                seen.append(lines.get(timeout=1))
            except queue.Empty:
                continue
        out = "".join(seen)
        key = re.search(r"API key \(shown once\): (etl_\S+)", out).group(1)  # type: ignore[union-attr]
        base = re.search(r"serving at (http://127\.0\.0\.1:\d+)", out).group(1)  # type: ignore[union-attr]
        assert f"curl -u {key}: {base}/v2/mrr" in out

        assert httpx.get(f"{base}/healthz").status_code == 200
        assert httpx.get(f"{base}/v2/mrr").status_code == 401
        mrr = httpx.get(f"{base}/v2/mrr", auth=(key, ""))
        assert mrr.status_code == 200, mrr.text
        customers = httpx.get(
            f"{base}/v2/customers?limit=3", headers={"Authorization": f'Token token="{key}"'}
        )
        assert customers.status_code == 200 and len(customers.json()["data"]) == 3
        chart = httpx.get(f"{base}/chart", headers={"Authorization": f"Bearer {key}"})
        assert chart.status_code == 200 and "<svg" in chart.text
        if chromium_path() is None:
            pytest.fail("chromium is not installed: apt-get install chromium", pytrace=False)
        report = render(
            f"{base}/chart",
            headers={"Authorization": f"Bearer {key}"},
            evaluate="document.querySelectorAll('tbody tr').length",
        )
        assert report.errors == [], report.errors
        assert report.value >= 6  # 8 months of history, the first ones may have no MRR yet

        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{base}/healthz", timeout=2)
