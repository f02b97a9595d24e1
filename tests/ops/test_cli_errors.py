"""Configuration and connection problems through the real CLI: one line naming the
setting and what is wrong with it, exit 2; files that cannot be written, exit 1; never
a traceback, never "no schema yet" for a database that is not there."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from tests.ops.helpers import ETL, etl_env

COMMANDS = (["status"], ["init-db"], ["api-key", "create", "--name", "x"], ["serve"])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _etl(tmp_path: Path, db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ETL, *args],
        cwd=tmp_path,
        env=etl_env(tmp_path, db_url),
        capture_output=True,
        text=True,
        timeout=60,
    )


def _database_urls(tmp_path: Path) -> dict[str, tuple[str, str]]:
    not_a_db = tmp_path / "garbage.db"
    not_a_db.write_text("this is no database\n")
    return {
        "slash missing": ("sqlite://etl.db", "a slash is missing"),
        "missing directory": (
            f"sqlite:///{tmp_path / 'nowhere' / 'etl.db'}",
            f"the directory {tmp_path / 'nowhere'} of the SQLite file does not exist",
        ),
        # /proc takes no new files, even from root (a chmod'ed directory would not do).
        "unwritable directory": ("sqlite:////proc/etl.db", "cannot create the SQLite file"),
        "not a database": (f"sqlite:///{not_a_db}", "is not an SQLite database"),
        "no such PostgreSQL database": (
            "postgresql+psycopg://postgres@127.0.0.1:5432/etl_no_such_database",
            "has no database 'etl_no_such_database'",
        ),
        "no PostgreSQL server": (
            f"postgresql+psycopg://postgres@127.0.0.1:{_free_port()}/etl",
            "no PostgreSQL server answers at 127.0.0.1",
        ),
    }


@pytest.mark.parametrize(
    "case",
    [
        "slash missing",
        "missing directory",
        "unwritable directory",
        "not a database",
        "no such PostgreSQL database",
        "no PostgreSQL server",
    ],
)
def test_a_database_that_is_not_there_is_one_line_naming_database_url(
    tmp_path: Path, case: str
) -> None:
    db_url, problem = _database_urls(tmp_path)[case]
    for command in COMMANDS:
        r = _etl(tmp_path, db_url, *command)
        assert r.returncode == 2, (command, r.stderr)
        assert "Traceback" not in r.stderr, (command, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1, (command, r.stderr)
        assert lines[0].startswith("etl: error: setting DATABASE_URL: "), (command, lines)
        assert problem in lines[0], (command, lines)
        assert "no schema" not in lines[0] and "OperationalError" not in lines[0]
        assert "Serving" not in r.stdout + r.stderr


def test_status_on_a_reachable_empty_database_still_says_no_schema(tmp_path: Path) -> None:
    r = _etl(tmp_path, f"sqlite:///{tmp_path / 'fresh.db'}", "status")
    assert r.returncode == 2
    assert r.stderr.strip() == "etl: error: the database has no schema yet: run `etl init-db` first"


@pytest.mark.parametrize("where", ["under a file", "a file", "in /proc"])
def test_chart_out_to_an_unwritable_place_is_one_line_exit_1(tmp_path: Path, where: str) -> None:
    from etl.db import tables
    from etl.db.engine import make_engine
    from etl.db.schema import init_db
    from etl.db.upsert import upsert_rows
    from tests.ops.test_chart import _rows

    db_url = f"sqlite:///{tmp_path / 'etl.db'}"
    eng = make_engine(db_url)
    init_db(eng)
    with eng.begin() as conn:
        upsert_rows(conn, tables.mrr_monthly, _rows(3))
    eng.dispose()
    a_file = tmp_path / "taken"
    a_file.write_text("x")
    out = {"under a file": a_file / "charts", "a file": a_file, "in /proc": Path("/proc/charts")}
    r = _etl(tmp_path, db_url, "chart", "--out", str(out[where]))
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines() == [r.stderr.strip()]
    assert r.stderr.startswith("etl: error: cannot use ")


# ------------------------------------------------------------------ ports


def _schema_db(tmp_path: Path) -> str:
    from etl.db.engine import make_engine
    from etl.db.schema import init_db

    db_url = f"sqlite:///{tmp_path / 'etl.db'}"
    eng = make_engine(db_url)
    init_db(eng)
    eng.dispose()
    return db_url


@pytest.mark.parametrize(
    "command",
    [
        ["serve", "--port", "99999"],
        ["serve", "--port", "0"],
        ["daemon", "--serve", "--port", "99999"],
        ["daemon", "--serve", "--port", "70000"],
        ["daemon", "--serve", "--port", "-1"],
        ["demo", "--no-serve", "--port", "65536"],
        ["sandbox", "serve", "--port", "99999"],
    ],
)
def test_a_port_out_of_range_is_refused_with_exit_2(tmp_path: Path, command: list[str]) -> None:
    r = _etl(tmp_path, _schema_db(tmp_path), *command)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "--port" in r.stderr
    assert "Serving" not in r.stdout + r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize(
    "command", [["serve"], ["daemon", "--serve", "--no-initial-sync"], ["sandbox", "serve"]]
)
def test_a_busy_port_is_said_plainly_with_exit_1(tmp_path: Path, command: list[str]) -> None:
    db_url = _schema_db(tmp_path)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        r = _etl(tmp_path, db_url, *command, "--port", str(port))
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"etl: error: cannot serve on 127.0.0.1:{port}: the port is already in use" in r.stderr
    assert "Serving" not in r.stdout + r.stderr and "Traceback" not in r.stderr


# ------------------------------------------------------------------ output for logs


def test_status_piped_to_a_file_prints_every_cell_whole(tmp_path: Path) -> None:
    import json

    from sqlalchemy import text

    from etl.db.engine import make_engine

    db_url = _schema_db(tmp_path)
    counts = {"objects": 2_934_117, "customers": 48_211, "invoices": 1_204_733, "pages": 29_342}
    eng = make_engine(db_url)
    with eng.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO job_runs (job, trigger, status, started_at, finished_at, counts_json)"
                " VALUES ('sync', 'cron', 'ok', '2026-01-01 03:00:00', '2026-01-01 03:41:07', :c)"
            ),
            {"c": json.dumps(counts)},
        )
    eng.dispose()
    env = etl_env(tmp_path, db_url)
    env.pop("COLUMNS", None)
    log = tmp_path / "cron.log"
    with log.open("w") as out:
        subprocess.run([*ETL, "status"], cwd=tmp_path, env=env, stdout=out, check=True)
    written = log.read_text()
    assert "…" not in written
    for value in ("objects=2,934,117", "customers=48,211", "invoices=1,204,733", "pages=29,342"):
        assert value in written
