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
