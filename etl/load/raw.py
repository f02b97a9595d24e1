"""The raw layer: every object as received, once per distinct content.

A version is identified by the hash of its text (`etl.normalize.content`); a page's
versions are inserted (or re-stamped when already known), then the previous versions of
the same objects lose their `is_current` flag, one statement per object type.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, update

from etl.db import tables
from etl.load.statements import execute_many

T_RAW = tables.raw_objects


def save_raw_rows(conn: Connection, values: list[dict[str, Any]], now: datetime) -> None:
    """Store raw rows (`etl.normalize.content.raw_rows`) fetched at `now`; flag the current
    version of each object."""
    if not values:
        return
    for r in values:
        r["fetched_at"] = now

    def build(ins: Any, _cols: list[str]) -> Any:
        return ins.on_conflict_do_update(
            index_elements=["object_type", "stripe_id", "content_hash"],
            set_={
                c: ins.excluded[c]
                for c in ("fetched_at", "sync_run_id", "is_current", "malformed", "source")
            },
        )

    execute_many(conn, T_RAW, values, "raw", build)
    by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in values:
        by_type[r["object_type"]].append(r)
    for otype, group in by_type.items():
        conn.execute(
            update(T_RAW)
            .where(
                T_RAW.c.object_type == otype,
                T_RAW.c.stripe_id.in_({r["stripe_id"] for r in group}),
                T_RAW.c.is_current.is_(True),
                T_RAW.c.content_hash.not_in([r["content_hash"] for r in group]),
            )
            .values(is_current=False)
        )
