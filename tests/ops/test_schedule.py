"""The one schedule: defaults, overrides, validation, the cron example, the fast test mode."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from etl.config import ConfigError, load_settings
from jobs.schedule import crontab, schedule, trigger_for
from tests.ops.helpers import ETL, etl_env

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_sync_hourly_with_recompute_reconcile_nightly_prune_weekly(
    clean_env: Path,
) -> None:
    entries = {e.name: e for e in schedule(load_settings())}
    assert entries["sync"].cron == "0 * * * *" and entries["sync"].jobs == ("sync", "recompute")
    assert entries["reconcile"].cron == "30 3 * * *"
    assert entries["reconcile"].jobs == ("reconcile", "recompute")
    assert entries["prune"].cron == "45 4 * * 0" and entries["prune"].jobs == ("prune",)


def test_cron_expressions_come_from_settings(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ETL_SYNC_CRON", "*/15 * * * *")
    s = load_settings()
    [sync] = [e for e in schedule(s) if e.name == "sync"]
    assert sync.cron == "*/15 * * * *"
    assert "*/15 * * * * etl run-job sync --trigger cron" in crontab(s)
    trig = trigger_for(sync, s)
    assert type(trig).__name__ == "CronTrigger"
    assert {f.name: str(f) for f in trig.fields}["minute"] == "*/15"


@pytest.mark.parametrize("value", ["61 * * * *", "every hour", "* * * *"])
def test_a_bad_cron_expression_names_its_variable(clean_env: Path, value: str) -> None:
    with pytest.raises(ConfigError, match="ETL_RECONCILE_CRON"):
        schedule(load_settings(reconcile_cron=value))


def test_bad_cron_on_the_command_line_exits_2_with_one_line(tmp_path: Path) -> None:
    env = etl_env(tmp_path, f"sqlite:///{tmp_path / 'etl.db'}", ETL_SYNC_CRON="0 25 * * *")
    r = subprocess.run([*ETL, "daemon"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        r.stderr.strip().splitlines()[0]
    ] and r.stderr.startswith("etl: error: setting ETL_SYNC_CRON:")


def test_fast_schedule_for_tests_replaces_every_cron(clean_env: Path) -> None:
    s = load_settings(schedule_seconds=2)
    for e in schedule(s):
        trig = trigger_for(e, s)
        assert type(trig).__name__ == "IntervalTrigger"
        assert trig.interval.total_seconds() == 2


def test_the_cron_example_is_the_schedule(clean_env: Path) -> None:
    example = (ROOT / "jobs" / "crontab.example").read_text()
    generated = crontab(
        load_settings(),
        etl="/srv/etl/venv/bin/etl",
        workdir="/srv/etl",
        log="/var/log/etl/jobs.log",
    )
    assert example.endswith(generated)
    job_lines = [line for line in example.splitlines() if line and not line.startswith("#")]
    assert job_lines[0] == "CRON_TZ=UTC"
    assert [line.split(" run-job ")[1].split()[0] for line in job_lines[1:]] == [
        "sync",
        "reconcile",
        "prune",
    ]


def test_the_systemd_unit_runs_the_daemon() -> None:
    unit = (ROOT / "jobs" / "etl.service").read_text()
    assert "ExecStart=/srv/etl/venv/bin/etl daemon --serve" in unit
    assert "KillSignal=SIGTERM" in unit
    timer = (ROOT / "jobs" / "etl-sync.timer").read_text()
    assert "OnCalendar=*-*-* *:00:00 UTC" in timer
