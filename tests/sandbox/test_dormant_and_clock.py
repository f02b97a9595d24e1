"""Dormant accounts (`quiet_days`) and the sandbox CLI's clock, which stands at today."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from etl.cli import main
from etl.clock import utcnow
from etl.sandbox.simulation.generator import DEFAULT_END, generate_account
from etl.sandbox.simulation.util import DAY
from tests.sandbox.server_fixtures import sdk_client

ROOT = Path(__file__).resolve().parents[2]


def test_quiet_days_leave_no_activity_in_the_last_days() -> None:
    acct = generate_account(seed=3, customers=40, months=6, end=DEFAULT_END, quiet_days=10)
    quiet_from = acct.end - 10 * DAY
    events = list(acct.objects["event"].values())
    assert events and max(e["created"] for e in events) < quiet_from
    for resource in ("customer", "subscription", "invoice", "invoiceitem", "refund"):
        assert all(
            (o.get("created") or o["date"]) < quiet_from for o in acct.objects[resource].values()
        )
    # What Stripe would still renew in the quiet days is gone; what renews later stays.
    live = [s for s in acct.subscription_states.values() if s.status != "canceled"]
    assert all(s.period_end > acct.end for s in live)
    # The account wakes up when the clock moves on.
    assert acct.advance(60)


def test_bad_quiet_days_are_refused() -> None:
    with pytest.raises(ValueError, match="quiet_days"):
        generate_account(customers=5, months=2, quiet_days=-1)
    assert main(["sandbox", "truth", "--months", "2", "--quiet-days", "90"]) == 2


def test_cli_truth_defaults_to_todays_clock(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sandbox", "truth", "--customers", "8", "--months", "2"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["as_of"].startswith(utcnow().date().isoformat())


def test_cli_serve_says_where_its_clock_stands_and_serves_a_dormant_account() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = ["--port", "0", "--customers", "20", "--months", "4", "--quiet-days", "40"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "etl", "sandbox", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().split()[3]
        clock_line = proc.stdout.readline()
        today = datetime.now(UTC).date().isoformat()
        assert f"clock at {today} 00:00 UTC" in clock_line, clock_line
        client = sdk_client(base_url)
        assert client.v1.events.list({"limit": 10}).data == []
        assert client.v1.customers.list({"limit": 10}).data
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
