"""The sync's cursors (`sync_cursors` rows): where each unit of a load and each event
stream stands, written in the same transaction as the pages they follow.

A row holds the last object or event written (`cursor`), a phase (`full`, `done`,
`incremental`) and a JSON state (a unit's resource and `created` slice, a stream's
availability and when it was last read to the end).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from etl.db import tables
from etl.db.upsert import upsert_rows

T_CURSORS = tables.sync_cursors

# The row a full load writes once its units are planned; its presence means "resume".
PLAN_ROW = "full:plan"


def cursor_state(row: Any) -> dict[str, Any]:
    """The JSON state of a cursor row (empty for none)."""
    return json.loads(row.state_json) if row is not None and row.state_json else {}


def load_cursors(conn: Connection, prefix: str | None = None) -> dict[str, Any]:
    """Cursor rows by name, those whose name starts with `prefix` if given."""
    q = select(T_CURSORS)
    if prefix is not None:
        q = q.where(T_CURSORS.c.resource.like(prefix + "%"))
    return {r.resource: r for r in conn.execute(q)}


def save_cursor(
    conn: Connection,
    name: str,
    *,
    cursor: str | None,
    phase: str,
    state: Mapping[str, Any] | None,
    run_id: int | None,
    now: datetime,
) -> None:
    upsert_rows(
        conn,
        T_CURSORS,
        [
            {
                "resource": name,
                "cursor": cursor,
                "phase": phase,
                "state_json": json.dumps(dict(state), sort_keys=True) if state else None,
                "sync_run_id": run_id,
                "updated_at": now,
            }
        ],
    )
