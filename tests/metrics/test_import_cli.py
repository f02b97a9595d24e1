"""`etl import-invoices FILE`, `etl recompute`, `etl fx load` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from etl.cli import main
from etl.db import tables
from etl.db.engine import make_engine
from etl.db.models import FxRate, Invoice, MrrMonthly, RevenueLine
from etl.db.schema import init_db
from etl.db.tables import table_of
from tests.metrics.helpers import add_customers, add_plan


@pytest.fixture
def db(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{clean_env / 'etl.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("ETL_LOG_LEVEL", "warning")
    eng = make_engine(url)
    init_db(eng)
    with eng.begin() as conn:
        add_customers(conn, [1, 2, 3])
        conn.exec_driver_sql("UPDATE customers SET stripe_id = 'cus_TWO' WHERE id = 2")
        conn.exec_driver_sql("UPDATE customers SET extra_id = 'ext-3' WHERE id = 3")
        add_plan(conn, "hobby_monthly", 2_900)
        add_plan(conn, "pro_yearly", 120_000, "year")
    eng.dispose()
    return url


def _count(url: str, model: type) -> int:
    eng = make_engine(url)
    with eng.connect() as conn:
        n = conn.execute(select(func.count()).select_from(table_of(model))).scalar_one()
    eng.dispose()
    return int(n)


GOOD = """id,customer,plan,amount,discount,quantity,date_paid,period_start,period_end,description
inv-1,1,hobby_monthly,,,2,2024-01-05T10:00:00+00:00,,,two seats
inv-2,cus_TWO,pro_yearly,,20000,,2024-02-01T00:00:00Z,,,
inv-3,ext-3,,50000,,,2024-03-03,,,setup fee
inv-4,c1@example.com,hobby_monthly,2900,,,2024-02-05T10:00:00+00:00,,,
"""

BAD = """id,customer,plan,amount,discount,quantity,date_paid
ok-1,1,hobby_monthly,,,,2024-01-05
bad-1,nobody,hobby_monthly,,,,2024-01-05
bad-2,1,no_such_plan,,,,2024-01-05
bad-3,1,,,,,2024-01-05
bad-4,1,hobby_monthly,abc,,,2024-01-05
bad-5,1,hobby_monthly,,,,yesterday
ok-1,2,hobby_monthly,,,,2024-01-05
bad-7,1,hobby_monthly,100,200,,2024-01-05
bad-8,1,hobby_monthly,,,0,2024-01-05
bad-9,1,hobby_monthly,,,,2024-01-05,surplus
bad-10,1,hobby_monthly,,,,1985-01-01
"""


def test_bad_file_imports_nothing_and_reports_every_bad_row(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "bad.csv"
    f.write_text(BAD)
    assert main(["import-invoices", str(f)]) == 1
    err = capsys.readouterr().err
    for line_no, word in (
        (3, "customer"),
        (4, "plan"),
        (5, "amount"),
        (6, "amount"),
        (7, "date_paid"),
        (8, "appears twice"),
        (9, "exceeds"),
        (10, "quantity"),
        (11, "more values than the header"),
        (12, "outside the years"),
    ):
        assert any(f"line {line_no}:" in ln and word in ln for ln in err.splitlines()), (
            line_no,
            err,
        )
    assert "line 2:" not in err
    assert "nothing was imported" in err
    assert _count(db, Invoice) == 0 and _count(db, RevenueLine) == 0


def test_good_file_imports_then_reimport_reports_duplicates(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "good.csv"
    f.write_text(GOOD)
    assert main(["import-invoices", str(f)]) == 0
    out = capsys.readouterr().out
    assert "Imported 4 invoices" in out and "recompute (full" in out
    assert _count(db, Invoice) == 4 and _count(db, RevenueLine) == 4

    eng = make_engine(db)
    with eng.connect() as conn:
        inv = {r.id: r for r in conn.execute(select(tables.invoices))}
        feb = conn.execute(
            select(tables.mrr_monthly).where(MrrMonthly.month == "2024-02-01")  # type: ignore[attr-defined, arg-type]
        ).first()
    eng.dispose()
    assert (
        inv["inv-1"].subtotal == 5_800
        and inv["inv-1"].period_end.isoformat() == "2024-02-05T10:00:00"
    )
    assert inv["inv-2"].total == 100_000 and inv["inv-2"].period_end.year == 2025
    assert inv["inv-3"].plan_id is None and inv["inv-3"].period_end == inv["inv-3"].period_start
    assert inv["inv-2"].customer_id == 2 and inv["inv-3"].customer_id == 3
    # Jan: 2 seats × 29; Feb: yearly 1000/12 → 8333 + 2900 (inv-4), inv-1 ended Feb 5
    assert feb is not None and feb.mrr == 8_333 + 2_900

    # The same ids with other content (every date_paid a year earlier): an error each.
    f.write_text(GOOD.replace("2024-0", "2023-0"))
    assert main(["import-invoices", str(f)]) == 1
    err = capsys.readouterr().err
    for line_no, inv_id in ((2, "inv-1"), (3, "inv-2"), (4, "inv-3"), (5, "inv-4")):
        assert f"line {line_no}: id: invoice {inv_id} was imported before" in err
    assert _count(db, Invoice) == 4


def test_the_same_file_again_or_with_rows_appended_imports_only_the_new_rows(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "good.csv"
    f.write_text(GOOD)
    assert main(["import-invoices", str(f), "--no-recompute"]) == 0
    capsys.readouterr()
    assert main(["import-invoices", str(f), "--no-recompute"]) == 0
    out, err = capsys.readouterr()
    assert "Imported 0 invoices" in out
    assert "Skipped 4 invoices imported before with the same content (inv-1, inv-2" in err
    assert _count(db, Invoice) == 4
    # Rows appended, and one without date_paid: its default ("now") is not content.
    f.write_text(GOOD + "inv-5,2,hobby_monthly,,,,2024-04-01,,,\ninv-6,3,,700,,,,,,\n")
    assert main(["import-invoices", str(f), "--no-recompute"]) == 0
    out, err = capsys.readouterr()
    assert "Imported 2 invoices" in out and "Skipped 4 invoices" in err
    assert main(["import-invoices", str(f), "--no-recompute"]) == 0
    out, err = capsys.readouterr()
    assert "Imported 0 invoices" in out and "Skipped 6 invoices" in err
    assert _count(db, Invoice) == 6
    # One changed row among unchanged ones: that row named, nothing imported.
    f.write_text(
        GOOD.replace("setup fee", "setup fee (revised)") + "inv-7,1,,100,,,2024-05-01,,,\n"
    )
    assert main(["import-invoices", str(f), "--no-recompute"]) == 1
    err = capsys.readouterr().err
    assert (
        "line 4: id: invoice inv-3 was imported before with other content "
        "(description: setup fee stored, setup fee (revised) in the file)"
    ) in err
    assert "inv-1" not in err and _count(db, Invoice) == 6


def test_json_file_reports_the_line_each_object_starts_on(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [
        {"id": "j1", "customer": "1", "plan": "hobby_monthly"},
        {"id": "j2", "customer": "1", "amount": -5},
        {"id": "j3", "customer": 1, "plan": "hobby_monthly", "color": "red"},
    ]
    f = tmp_path / "in.json"
    f.write_text(json.dumps(rows, indent=2))
    assert main(["import-invoices", str(f), "--no-recompute"]) == 1
    err = capsys.readouterr().err
    # json.dumps(indent=2): objects start on lines 2, 7 and 12
    assert "line 7: amount:" in err and "line 12: color: unknown field" in err
    assert "line 2:" not in err
    f.write_text('[{"id": 1,}]')
    assert main(["import-invoices", str(f)]) == 1
    assert "invalid JSON" in capsys.readouterr().err
    assert _count(db, Invoice) == 0


def test_fx_load_and_recompute_with_as_of(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "good.csv"
    f.write_text(GOOD)
    assert main(["import-invoices", str(f), "--no-recompute"]) == 0
    bad = tmp_path / "bad_fx.csv"
    bad.write_text("currency,month,rate\neur,2024-01,1.1\neuro,2024-02,x\n")
    assert main(["fx", "load", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "line 3" in err and _count(db, FxRate) == 0
    good = tmp_path / "fx.csv"
    good.write_text("currency,month,rate\neur,2024-01,1.1\nEUR,2024-02-01,1.2\n")
    assert main(["fx", "load", str(good)]) == 0
    assert _count(db, FxRate) == 2
    assert main(["recompute", "--as-of", "2024-03-31", "--full"]) == 0
    out = capsys.readouterr().out
    assert "recompute (full, as of 2024-03-31T23:59:59)" in out
    assert main(["recompute", "--as-of", "not-a-date"]) == 2
    assert main(["recompute", "--as-of", "2200-01-01"]) == 2
    assert "outside the years" in capsys.readouterr().err


HEADER = "id,customer,plan,amount,date_paid,description\n"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            HEADER + 'u-1,1,,100,2024-01-05,"an open quote\nu-2,1,,100,2024-01-06,x\n',
            ["line 2: a quoted field opened on this row is never closed"],
        ),
        ("1,1,,100,2024-01-05,x\n2,1,,100,2024-01-06,y\n", ["line 1: no header line"]),
        (
            "id,customer,amount,colour\nh-1,1,100,red\n",
            ["line 1: unknown column 'colour'"],
        ),
        ("id,plan,amount\nh-1,hobby_monthly,100\n", ["line 1: the header has no 'customer'"]),
        (
            HEADER + "n-1,1,,100,2024-01-05,a\x00b\nn-2,1,,100,2024-01-05,ok\nn-3,1,,1\x00,,\n",
            ["line 2: holds a NUL byte", "line 4: holds a NUL byte"],
        ),
        (
            HEADER + "l-1,1,,100,2024-01-05," + "x" * 200_000 + "\n",
            ["line 2: a field is longer than the CSV limit"],
        ),
        (HEADER + "s-1,1,,100\n", ["line 2: row has 4 values, the header has 6 columns"]),
        (HEADER, ["no invoice rows after the header line"]),
    ],
    ids=[
        "open quote",
        "no header",
        "unknown column",
        "no customer",
        "NUL",
        "long",
        "short",
        "empty",
    ],
)
def test_a_malformed_csv_is_refused_whole_with_its_lines(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, expected: list[str]
) -> None:
    f = tmp_path / "in.csv"
    f.write_bytes(content.encode())
    assert main(["import-invoices", str(f), "--no-recompute"]) == 1
    err = capsys.readouterr().err
    for needle in expected:
        assert needle in err
    assert "Traceback" not in err and _count(db, Invoice) == 0


def test_encodings_utf8_with_or_without_bom_latin1_refused_naming_the_line(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = HEADER + "e-1,1,,100,2024-01-05,Café\ne-2,1,,100,2024-01-05,Müller GmbH\n"
    f = tmp_path / "latin1.csv"
    f.write_bytes(text.encode("latin-1"))
    assert main(["import-invoices", str(f), "--no-recompute"]) == 2
    err = capsys.readouterr().err
    assert f"{f}: line 2: byte 0xe9 is not UTF-8; save the file as UTF-8" in err
    assert "iconv -f cp1252 -t utf-8" in err and _count(db, Invoice) == 0
    f.write_bytes(text.encode("utf-16"))
    assert main(["import-invoices", str(f), "--no-recompute"]) == 2
    assert "the file is UTF-16" in capsys.readouterr().err
    f.write_bytes(text.encode("utf-8-sig"))
    assert main(["import-invoices", str(f), "--no-recompute"]) == 0
    f.write_bytes(text.replace("e-", "f-").encode("utf-8"))
    assert main(["import-invoices", str(f), "--no-recompute"]) == 0
    eng = make_engine(db)
    with eng.connect() as conn:
        descriptions = set(conn.scalars(select(tables.invoices.c.description)))
    eng.dispose()
    assert descriptions == {"Café", "Müller GmbH"}


def test_a_rate_of_the_reporting_currency_itself_is_refused(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ETL_REPORTING_CURRENCY", "EUR")
    f = tmp_path / "fx.csv"
    f.write_text("currency,month,rate\nusd,2024-01,0.9\neur,2024-01,1\n")
    assert main(["fx", "load", str(f)]) == 1
    err = capsys.readouterr().err
    assert "line 3: currency eur is the reporting currency (ETL_REPORTING_CURRENCY)" in err
    assert _count(db, FxRate) == 0


def test_the_json_reader_is_linear_in_the_rows(tmp_path: Path) -> None:
    import time

    from etl.imports.files import read_invoice_file

    def seconds(n: int) -> float:
        f = tmp_path / f"rows{n}.json"
        f.write_text(json.dumps([{"id": f"j{i}", "customer": "1"} for i in range(n)], indent=1))
        started = time.process_time()
        rows, lines = read_invoice_file(f)
        assert len(rows) == n and lines[-1] == 2 + 4 * (n - 1)
        return time.process_time() - started

    small, large = seconds(20_000), seconds(80_000)
    # Linear: 4× the rows, about 4× the time; the quadratic reader took 16×.
    assert large < 8 * small + 0.05
