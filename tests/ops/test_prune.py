"""Pruning: superseded raw versions older than the retention go; current versions never."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert, select

from etl.bootstrap import bootstrap
from etl.config import load_settings
from etl.db import tables
from jobs.prune import prune_raw_versions
from jobs.runner import run_job
from tests.ops.helpers import job_runs

RAW = tables.raw_objects
NOW = datetime(2026, 6, 1, 12, 0, 0)


def _version(stripe_id: str, n: int, *, current: bool, age_days: float) -> dict[str, object]:
    return {
        "object_type": "customer",
        "stripe_id": stripe_id,
        "fetched_at": NOW - timedelta(days=age_days),
        "source": "list",
        "deleted": False,
        "malformed": False,
        "is_current": current,
        "content_hash": f"{stripe_id}-{n}".ljust(64, "0"),
        "data": f'{{"id": "{stripe_id}", "v": {n}}}',
    }


def _ids(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return {r.content_hash[:8].rstrip("0") for r in conn.execute(select(RAW.c.content_hash))}


def test_prune_deletes_only_old_superseded_versions(engine: Engine) -> None:
    rows = [
        _version("cus_a", 1, current=False, age_days=90),  # old, superseded: goes
        _version("cus_a", 2, current=False, age_days=31),  # old, superseded: goes
        _version("cus_a", 3, current=False, age_days=29),  # superseded, recent: stays
        _version("cus_a", 4, current=True, age_days=1),
        _version("cus_b", 1, current=True, age_days=400),  # current, however old: stays
    ]
    with engine.begin() as conn:
        conn.execute(insert(RAW), rows)
    assert prune_raw_versions(engine, 30, now=NOW) == 2
    assert _ids(engine) == {"cus_a-3", "cus_a-4", "cus_b-1"}
    assert prune_raw_versions(engine, 30, now=NOW) == 0  # idempotent
    assert prune_raw_versions(engine, 0, now=NOW) == 1
    assert _ids(engine) == {"cus_a-4", "cus_b-1"}


def test_prune_job_uses_the_retention_setting_and_is_recorded(db_url: str) -> None:
    c = bootstrap(load_settings(database_url=db_url, prune_keep_days=7), configure_logs=False)
    now = datetime.now(UTC).replace(tzinfo=None)
    with c.engine.begin() as conn:
        conn.execute(
            insert(RAW),
            [
                {
                    **_version("cus_x", 1, current=False, age_days=0),
                    "fetched_at": now - timedelta(days=8),
                },
                {
                    **_version("cus_x", 2, current=False, age_days=0),
                    "fetched_at": now - timedelta(days=6),
                },
                {**_version("cus_x", 3, current=True, age_days=0), "fetched_at": now},
            ],
        )
    result = run_job(c, "prune")
    assert result.status == "ok"
    assert result.counts == {"raw_versions_deleted": 1, "keep_days": 7}
    [row] = job_runs(c.engine)
    assert (row["job"], row["status"]) == ("prune", "ok")
    assert _ids(c.engine) == {"cus_x-2", "cus_x-3"}
    c.close()
