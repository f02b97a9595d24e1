"""Settings and the command line as a user runs them: real processes, real exit codes."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from etl.config import ConfigError, load_settings
from etl.logs import REDACTED, redact_processor


def run_etl(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ETL_", "STRIPE_")) and k != "DATABASE_URL"
    }
    return subprocess.run(
        [sys.executable, "-m", "etl", *args],
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        cwd=cwd,
        timeout=120,
    )


def test_defaults(clean_env: Path) -> None:
    s = load_settings()
    assert s.database_url == "sqlite:///etl.db"
    assert s.timezone == "UTC" and s.reporting_currency == "usd"
    assert s.include_tax is False and s.past_due_grace_days == 0
    assert s.stripe_api_key is None


def test_env_and_dotenv(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (clean_env / ".env").write_text("ETL_TIMEZONE=Europe/Helsinki\nETL_REPORTING_CURRENCY=EUR\n")
    monkeypatch.setenv("ETL_INCLUDE_TAX", "true")
    s = load_settings()
    assert s.timezone == "Europe/Helsinki" and s.reporting_currency == "eur" and s.include_tax


@pytest.mark.parametrize(
    ("var", "value", "needle"),
    [
        ("DATABASE_URL", "not a url", "DATABASE_URL"),
        ("DATABASE_URL", "mysql://u@h/db", "unsupported database"),
        ("ETL_TIMEZONE", "Mars/Olympus", "ETL_TIMEZONE"),
        ("ETL_REPORTING_CURRENCY", "dollars", "ETL_REPORTING_CURRENCY"),
        ("ETL_PAST_DUE_GRACE_DAYS", "-3", "ETL_PAST_DUE_GRACE_DAYS"),
        ("ETL_INCLUDE_TAX", "maybe", "ETL_INCLUDE_TAX"),
        ("STRIPE_API_BASE", "ftp://x", "STRIPE_API_BASE"),
    ],
)
def test_bad_setting_names_the_variable(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, var: str, value: str, needle: str
) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert needle in str(err.value)
    assert err.value.setting == var


def test_malformed_secret_is_never_echoed(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_API_KEY", "sk_live_has spaces_and_SECRETVALUE")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "SECRETVALUE" not in str(err.value)


def test_secret_is_redacted_from_log_lines() -> None:
    from pydantic import SecretStr

    out = redact_processor(
        None,
        "info",
        {
            "event": "calling with sk_test_abc123DEF",
            "api_key": "whatever",
            "headers": {"Authorization": "Bearer x"},
            "key": SecretStr("sk_live_zzz"),
            "count": 3,
        },
    )
    assert "abc123DEF" not in out["event"] and REDACTED in out["event"]
    assert out["api_key"] == REDACTED
    assert out["headers"]["Authorization"] == REDACTED
    assert out["key"] == REDACTED and out["count"] == 3


def test_init_db_in_empty_directory_then_again(tmp_path: Path) -> None:
    first = run_etl("init-db", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    db = tmp_path / "etl.db"
    assert db.exists()
    schema = (Path(__file__).resolve().parents[1] / "schema.sql").read_text()
    expected = {line.split()[2] for line in schema.splitlines() if line.startswith("CREATE TABLE")}
    with sqlite3.connect(db) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        dump_before = "\n".join(conn.iterdump())
    assert expected <= tables
    second = run_etl("init-db", cwd=tmp_path)
    assert second.returncode == 0 and "up to date" in second.stdout
    with sqlite3.connect(db) as conn:
        assert "\n".join(conn.iterdump()) == dump_before


@pytest.mark.parametrize("empty_db_url", ["postgresql"], indirect=True)
def test_init_db_on_postgresql(empty_db_url: str, tmp_path: Path) -> None:
    res = run_etl("init-db", env={"DATABASE_URL": empty_db_url}, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "created" in res.stdout
    again = run_etl("init-db", env={"DATABASE_URL": empty_db_url}, cwd=tmp_path)
    assert again.returncode == 0 and "up to date" in again.stdout
    assert not (tmp_path / "etl.db").exists()


def test_malformed_database_url_is_one_line_and_exit_2(tmp_path: Path) -> None:
    res = run_etl("init-db", env={"DATABASE_URL": "postgres//oops"}, cwd=tmp_path)
    assert res.returncode == 2
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "DATABASE_URL" in lines[0], res.stderr
    assert "Traceback" not in res.stderr


def test_help_lists_commands_and_python_dash_m_works(tmp_path: Path) -> None:
    res = run_etl("--help", cwd=tmp_path)
    assert res.returncode == 0 and "init-db" in res.stdout
    assert run_etl("--version", cwd=tmp_path).stdout.startswith("etl ")


def test_unknown_command_is_usage_error(tmp_path: Path) -> None:
    assert run_etl("no-such-command", cwd=tmp_path).returncode == 2


def test_no_engine_or_stripe_key_at_import() -> None:
    code = (
        "import sys, etl.cli, etl.bootstrap, etl.db.models;"
        "import sqlalchemy.engine as e;"
        "import stripe; assert stripe.api_key is None;"
        "from etl.cli.app import _container; assert _container is None; print('ok')"
    )
    res = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "STRIPE_API_KEY": "sk_test_x"},
    )
    assert res.stdout.strip() == "ok", res.stderr
