"""Pruning: delete superseded raw versions older than ETL_PRUNE_KEEP_DAYS.

`raw_objects` keeps one row per distinct version of every Stripe object, for lineage.
Old versions are only useful for a while (to see what changed and when); the current
version of every object is never touched. One set-based DELETE, in one transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, false

from etl.clock import utcnow
from etl.db import tables
from jobs.runner import JobContext

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from etl.bootstrap import Container


def prune_raw_versions(engine: Engine, keep_days: int, *, now: datetime | None = None) -> int:
    """Delete raw versions that stopped being current more than `keep_days` ago.

    `fetched_at` of a superseded version is the last time Stripe sent it, i.e. about when
    it was replaced; that is the age that counts.
    """
    cutoff = (now or utcnow()) - timedelta(days=keep_days)
    table = tables.raw_objects
    with engine.begin() as conn:
        res = conn.execute(
            delete(table).where(table.c.is_current == false(), table.c.fetched_at < cutoff)
        )
    return int(res.rowcount or 0)


def run(container: Container, _ctx: JobContext) -> dict[str, Any]:
    keep_days = container.settings.prune_keep_days
    deleted = prune_raw_versions(container.engine, keep_days)
    return {"raw_versions_deleted": deleted, "keep_days": keep_days}
