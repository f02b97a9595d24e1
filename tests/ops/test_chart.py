"""The MRR picture: a valid PNG of the series, and the same chart as a page the API serves."""

from __future__ import annotations

import re
import struct
import zlib
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from etl.bootstrap import bootstrap
from etl.config import load_settings
from etl.db import tables
from etl.db.upsert import upsert_rows
from etl.report.chart import load_series, render_html, render_png, write_chart_files
from etl.report.raster import parse_color
from etl.report.scene import COLORS, build_scene, money, short_money
from tests.ops.chromium import chromium_path, render


def _rows(months: int, currency: str = "usd", basis: str = "native") -> list[dict[str, Any]]:
    """A plausible series that satisfies the movement identity month over month."""
    rows, mrr = [], 0
    for i in range(months):
        m = date(2024 + (i // 12), i % 12 + 1, 1)
        new, react = 150_000 + 7_919 * (i % 5), 3_000 * (i % 3)
        exp, con = 20_000 + 1_000 * (i % 4), 5_000 + 700 * (i % 6)
        churn = 0 if i == 0 else 40_000 + 2_500 * (i % 7)
        mrr = mrr + new + react + exp - con - churn
        customers = 10 + 4 * i
        rows.append(
            {
                "month": m,
                "currency": currency,
                "basis": basis,
                "mrr": mrr,
                "subscriptions": customers,
                "customers": customers,
                "new_mrr": new + react,
                "new_customers": 5,
                "reactivation_mrr": react,
                "reactivated_customers": 1 if react else 0,
                "expansion_mrr": exp,
                "contraction_mrr": con,
                "upgrade_mrr": exp,
                "downgrade_mrr": con,
                "change_in_mrr": exp - con,
                "lost_mrr": churn,
                "lost_customers": 1 if churn else 0,
                "waiting_mrr": 0,
                "waiting_subscriptions": 0,
                "arr": 12 * mrr,
                "arpa": mrr // customers,
                "fx_impact_mrr": 0,
                "missing_rates": None,
                "is_current": i == months - 1,
            }
        )
    return rows


def _store(engine: Engine, rows: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        upsert_rows(conn, tables.mrr_monthly, rows)


def read_png(data: bytes) -> tuple[int, int, bytes]:
    """Decode our PNGs (8-bit RGB, filter 0): width, height and the raw RGB bytes."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    idat = b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF, kind
        chunks[kind] = body
        if kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert list(chunks)[-1] == b"IEND"
    w, h, depth, ctype, _, _, _ = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert (depth, ctype) == (8, 2)
    raw = zlib.decompress(idat)
    assert len(raw) == h * (1 + 3 * w)
    rgb = b"".join(raw[y * (1 + 3 * w) + 1 : (y + 1) * (1 + 3 * w)] for y in range(h))
    assert all(raw[y * (1 + 3 * w)] == 0 for y in range(h))
    return w, h, rgb


def _has_color(rgb: bytes, color: str) -> bool:
    needle = bytes(parse_color(color))
    return any(rgb[i : i + 3] == needle for i in range(0, len(rgb), 3))


def test_png_and_html_files_show_the_series(engine: Engine, tmp_path: Path) -> None:
    rows = _rows(24)
    _store(engine, rows)
    files = write_chart_files(engine, tmp_path / "out", stem="mrr")
    assert files is not None
    assert files.png == tmp_path / "out" / "mrr.png" and files.html.name == "mrr.html"
    w, h, rgb = read_png(files.png.read_bytes())
    assert (w, h) == (2000, 1160)
    for kind in ("mrr", "new", "reactivation", "expansion", "contraction", "churn"):
        assert _has_color(rgb, COLORS[kind]), kind
    page = files.html.read_text()
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org", "")
    # Every month is in the table with its exact MRR, newest first.
    cells = re.findall(r"<tr><td>(\d{4}-\d{2})[^<]*</td><td>([^<]+)</td>", page)
    assert [c[0] for c in cells] == [r["month"].strftime("%Y-%m") for r in reversed(rows)]
    assert [c[1] for c in cells] == [money(r["mrr"], "usd") for r in reversed(rows)]
    assert page.count("<rect") > 24  # the movement bars


def test_without_mrr_nothing_is_written_and_the_page_says_so(
    engine: Engine, tmp_path: Path
) -> None:
    out = tmp_path / "charts"
    assert write_chart_files(engine, out) is None
    assert not out.exists()
    assert "No MRR computed yet" in render_html(load_series(engine))


def test_series_choice_prefers_complete_converted_totals(engine: Engine) -> None:
    usd = _rows(6, "usd")
    eur = [{**r, "currency": "eur", "mrr": r["mrr"] * 3} for r in _rows(6, "eur")]
    _store(engine, usd + eur)
    # No converted totals: the native currency with the most MRR.
    s = load_series(engine)
    assert s is not None and (s.currency, s.basis) == ("eur", "native")
    rep = _rows(6, "usd", "reporting")
    rep[2]["missing_rates"] = "gbp"
    _store(engine, rep)
    s = load_series(engine)
    assert s is not None and s.basis == "native"  # a month lacks a rate: not trusted
    rep[2]["missing_rates"] = None
    _store(engine, rep)
    s = load_series(engine)
    assert s is not None and (s.currency, s.basis) == ("usd", "reporting")
    s = load_series(engine, currency="USD")
    assert s is not None and s.basis == "native"
    assert load_series(engine, currency="jpy") is None


def test_money_text_is_exact() -> None:
    assert money(123456789, "usd") == "1,234,567.89"
    assert money(-5, "eur") == "-0.05"
    assert money(1500, "jpy") == "1,500"
    assert short_money(1_234_567_89, "usd") == "1.2M"
    assert short_money(1_500_00, "usd") == "1.5k"
    assert short_money(25_000_00, "usd") == "25k"


def test_png_rendering_is_deterministic_and_scales() -> None:
    from etl.report.scene import MonthPoint, Series

    pts = [MonthPoint(date(2025, 1, 1), 1000, 1000, 0, 0, 0, 0, 1, True)]  # one month draws
    scene = build_scene(Series("usd", "native", pts))
    a, b = render_png(scene, scale=1), render_png(scene, scale=1)
    assert a == b
    w, h, _ = read_png(a)
    assert (w, h) == (1000, 580)


@pytest.fixture
def served_chart(tmp_path: Path) -> Any:
    from etl.api.keys import create_key
    from etl.api.serve import ApiThread, build_app
    from etl.db.schema import init_db

    settings = load_settings(database_url=f"sqlite:///{tmp_path / 'etl.db'}", log_level="warning")
    container = bootstrap(settings)
    init_db(container.engine)
    rows = _rows(18)
    _store(container.engine, rows)
    with container.engine.begin() as conn:
        _, key = create_key(conn, name="chart-test")
    api = ApiThread(build_app(container), "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{api.port}", key, rows
    finally:
        api.stop()
        container.close()


def test_chart_page_needs_the_key(served_chart: Any) -> None:
    base, key, _ = served_chart
    r = httpx.get(f"{base}/chart")
    assert r.status_code == 401
    assert "Basic" in r.headers["www-authenticate"]  # a browser asks for the key
    r = httpx.get(f"{base}/chart", auth=(key, ""))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    r = httpx.get(f"{base}/chart?currency=12", auth=(key, ""))
    assert r.status_code == 400


def test_chart_page_renders_in_headless_chromium_without_console_errors(served_chart: Any) -> None:
    if chromium_path() is None:  # CI installs it (.ci/run); a failure, never a skip
        pytest.fail("chromium is not installed: apt-get install chromium", pytrace=False)
    base, key, rows = served_chart
    report = render(
        f"{base}/chart",
        headers={"Authorization": f"Bearer {key}"},
        evaluate="""JSON.stringify({
            svgWidth: document.querySelector('svg').getBoundingClientRect().width,
            bars: document.querySelectorAll('svg rect').length,
            dots: document.querySelectorAll('svg circle').length,
            rows: document.querySelectorAll('tbody tr').length,
            title: document.querySelector('h1').textContent,
            firstMrr: document.querySelector('tbody tr td:nth-child(2)').textContent
        })""",
    )
    assert report.loaded
    assert report.errors == [], report.errors
    import json

    page = json.loads(report.value)
    assert page["svgWidth"] > 500
    assert page["dots"] == len(rows)
    assert page["rows"] == len(rows)
    assert page["bars"] > len(rows)
    assert "USD" in page["title"]
    assert page["firstMrr"] == money(rows[-1]["mrr"], "usd")


def test_chart_command_writes_next_to_the_database(tmp_path: Path) -> None:
    import subprocess

    from etl.db.engine import make_engine
    from etl.db.schema import init_db
    from tests.ops.helpers import ETL, etl_env

    data = tmp_path / "data"
    data.mkdir()
    db_url = f"sqlite:///{data / 'etl.db'}"
    eng = make_engine(db_url)
    init_db(eng)
    env = etl_env(tmp_path, db_url)
    empty = subprocess.run([*ETL, "chart"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert empty.returncode == 2
    assert empty.stderr.strip() == "etl: error: no MRR to draw: run `etl sync` first"
    _store(eng, _rows(3))
    eng.dispose()
    r = subprocess.run([*ETL, "chart"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (data / "mrr.png").is_file() and (data / "mrr.html").is_file()
    assert read_png((data / "mrr.png").read_bytes())[:2] == (2000, 1160)


def test_status_says_which_currencies_a_converted_total_leaves_out(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    """`etl status` must not call a total "all currencies converted" when some currency
    had no exchange rate and was left out of it."""
    import json
    import os
    import subprocess

    from tests.ops.helpers import ETL

    rep = _rows(3, "usd", "reporting")
    rep[-1]["missing_rates"] = "eur,gbp"
    _store(engine, _rows(3, "usd") + rep)
    env = {**os.environ, "DATABASE_URL": db_url, "COLUMNS": "200"}
    text = subprocess.run(
        [*ETL, "status"], env=env, cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout
    assert "EUR, GBP left out: no exchange rate" in text
    assert "all currencies converted" not in text
    st = json.loads(
        subprocess.run(
            [*ETL, "status", "--json"], env=env, cwd=tmp_path, capture_output=True, text=True
        ).stdout
    )
    converted = [m for m in st["current_mrr"] if m["basis"] == "reporting"]
    assert converted[0]["missing_rates"] == ["eur", "gbp"]
    rep[-1]["missing_rates"] = None
    _store(engine, rep)
    text = subprocess.run(
        [*ETL, "status"], env=env, cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout
    assert "(all currencies converted)" in text
