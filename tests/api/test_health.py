"""/healthz: no key; database reachability; last successful sync and recompute."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from fastapi.testclient import TestClient

from etl.api.app import create_app
from etl.bootstrap import Container, bootstrap
from etl.config import load_settings
from etl.db import tables

COUNTS = {"objects": 0, "requests": 0, "retries": 0, "malformed": 0}


def test_reports_last_successful_runs(
    make_client: Callable[..., TestClient], container: Container
) -> None:
    client = make_client()
    assert client.get("/healthz").json() == {
        "status": "ok",
        "database": "ok",
        "last_sync_at": None,
        "last_recompute_at": None,
        "jobs": {},
    }
    with container.engine.begin() as conn:
        conn.execute(
            tables.sync_runs.insert(),
            [
                {
                    **COUNTS,
                    "kind": "full",
                    "status": "ok",
                    "started_at": datetime(2026, 1, 1),
                    "finished_at": datetime(2026, 1, 1, 0, 5),
                },
                {
                    **COUNTS,
                    "kind": "incremental",
                    "status": "failed",
                    "started_at": datetime(2026, 1, 2),
                    "finished_at": datetime(2026, 1, 2, 0, 1),
                },
            ],
        )
        conn.execute(
            tables.job_runs.insert(),
            [
                {
                    "trigger": "cli",
                    "job": "recompute",
                    "status": "ok",
                    "started_at": datetime(2026, 1, 1),
                    "finished_at": datetime(2026, 1, 1, 0, 6),
                    "error": None,
                },
                {
                    "trigger": "cli",
                    "job": "prune",
                    "status": "ok",
                    "started_at": datetime(2026, 1, 3),
                    "finished_at": datetime(2026, 1, 3, 0, 6),
                    "error": None,
                },
                {
                    "trigger": "daemon",
                    "job": "recompute",
                    "status": "failed",
                    "started_at": datetime(2026, 1, 4),
                    "finished_at": datetime(2026, 1, 4, 0, 1),
                    "error": "boom",
                },
            ],
        )
    body = client.get("/healthz").json()
    assert body["last_sync_at"] == "2026-01-01T00:05:00Z"
    assert body["last_recompute_at"] == "2026-01-01T00:06:00Z"
    assert body["jobs"] == {
        "prune": {
            "status": "ok",
            "started_at": "2026-01-03T00:00:00Z",
            "finished_at": "2026-01-03T00:06:00Z",
            "error": None,
            "last_ok_at": "2026-01-03T00:06:00Z",
        },
        "recompute": {
            "status": "failed",
            "started_at": "2026-01-04T00:00:00Z",
            "finished_at": "2026-01-04T00:01:00Z",
            "error": "boom",
            "last_ok_at": "2026-01-01T00:06:00Z",
        },
    }


def test_unreachable_database_is_503(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'missing-dir' / 'etl.db'}"
    container = bootstrap(load_settings(database_url=url), configure_logs=False)
    with TestClient(create_app(container)) as client:
        r = client.get("/healthz")
    container.close()
    assert r.status_code == 503
    assert r.json()["status"] == "error" and r.json()["database"] == "unreachable"
