"""Planning a full load: the events marker, and each resource cut into work units.

A big history is listed faster in `created` slices fetched concurrently; the slices are
sized from the first page (its time span) and the account's oldest object (found by a
binary search of `limit=1` probes, or taken from the oldest customer: everything else
belongs to one). The plan is written in one transaction with the event streams' marker,
so that a resumed load runs the same units and the incremental starts at the marker.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import stripe

from etl.clock import utcnow
from etl.extract import fetch as f
from etl.extract.pages import check_list_page
from etl.logs import get_logger
from etl.sync.context import SyncContext
from etl.sync.cursors import load_cursors, save_cursor
from etl.sync.options import SyncOptions

log = get_logger("etl.sync")

# Stripe's oldest possible object; a lower bound for the search of an account's start.
STRIPE_EPOCH = int(datetime(2010, 1, 1, tzinfo=UTC).timestamp())
MAX_SLICES = 16
PAGES_PER_SLICE = 25


@dataclass
class WorkUnit:
    """One list (or `created` slice of one) that a fetching thread pages through."""

    name: str
    spec: f.ResourceSpec
    created: dict[str, int] | None
    cursor: str | None


def backfill_prefix(options: SyncOptions) -> str:
    """The cursor names of a backfill: one set per window."""
    return f"backfill:{options.since or '-'}:{options.until or '-'}:"


def window(options: SyncOptions) -> dict[str, int]:
    """The `created` filter of a backfill's window (empty: everything)."""
    w: dict[str, int] = {}
    for key, day in (("gte", options.since), ("lt", options.until)):
        if day:
            w[key] = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
    return w


def _created_of(obj: Mapping[str, Any]) -> int:
    # Invoice items carry `date` where other objects carry `created`.
    return int(obj.get("created", obj.get("date")) or 0)


def _events_marker(ctx: SyncContext) -> tuple[dict[str, Any] | None, bool]:
    """The newest event before the load (None: no events yet) and whether this Stripe
    serves events at all."""
    try:
        return f.newest_event(ctx.api), True
    except stripe.InvalidRequestError as exc:
        if getattr(exc, "http_status", None) != 404:
            raise
    log.warning(
        "events_unavailable",
        message="this Stripe serves no /v1/events: changes are found by full loads",
    )
    return None, False


def plan_full_load(ctx: SyncContext, prefix: str, backfill: bool) -> dict[str, Any]:
    """Record the events marker and cut each resource into work units, in one transaction;
    returns the cursor rows of the plan."""
    now = utcnow()
    marker, events_available = (None, True) if backfill else _events_marker(ctx)
    slicer = _Slicer(ctx.api)
    created_window = window(ctx.options)
    plan: list[tuple[str, dict[str, Any]]] = []
    for spec in f.RESOURCES:
        try:
            slices = slicer.slices(spec, created_window)
        except stripe.InvalidRequestError as exc:
            if getattr(exc, "http_status", None) != 404:
                raise
            ctx.skip(spec.name, exc)
            continue
        for i, created in enumerate(slices):
            plan.append(
                (
                    f"{prefix}{spec.name}:{i:03d}",
                    {"resource": spec.name, "created": created or None},
                )
            )
    run_id = ctx.summary.run_id
    with ctx.engine.begin() as conn:
        if not backfill:
            for stream in f.EVENT_STREAMS:
                state = {
                    "created": marker["created"] if marker else None,
                    # Every event after the marker is still at Stripe for 30 days
                    # from now: the cursor is good until checked_at + 30 days.
                    "checked_at": now.isoformat(),
                    "available": events_available,
                }
                cursor = marker["id"] if marker else None
                save_cursor(
                    conn, stream, cursor=cursor, phase="full", state=state, run_id=run_id, now=now
                )
        for name, state in plan:
            save_cursor(conn, name, cursor=None, phase="full", state=state, run_id=run_id, now=now)
        save_cursor(
            conn,
            prefix + "plan",
            cursor=None,
            phase="full",
            state={"units": len(plan)},
            run_id=run_id,
            now=now,
        )
        units = load_cursors(conn, prefix)
    log.info("full_load_planned", units=len(plan), marker=marker["id"] if marker else None)
    return units


class _Slicer:
    """Cuts resources into `created` slices; remembers the account's oldest customer."""

    def __init__(self, api: f.StripeApi) -> None:
        self.api = api
        self.history_start: int | None = None

    def slices(self, spec: f.ResourceSpec, window: dict[str, int]) -> list[dict[str, int]]:
        if not spec.sliced:
            return [window]
        params = {k: v for k, v in spec.params.items() if k != "expand"}
        query = {**params, "limit": f.PAGE_LIMIT, **({"created": window} if window else {})}
        first = check_list_page(spec.path, self.api.get(spec.path, query))
        data = first["data"]
        if not first.get("has_more") or len(data) < 2:
            if spec.name == "customers" and data:
                self.history_start = _created_of(data[-1])
            return [window]
        newest, page_oldest = _created_of(data[0]), _created_of(data[-1])
        lo = window.get("gte", STRIPE_EPOCH)
        if self.history_start is not None:
            # Everything else belongs to a customer, so is no older than the oldest one.
            oldest = max(lo, min(self.history_start, page_oldest))
        else:
            oldest = f.oldest_created(self.api, spec.path, params, lo, page_oldest)
            if spec.name == "customers":
                self.history_start = oldest
        span = max(1, newest - page_oldest)
        est_pages = max(1.0, (newest - oldest) / span)
        n = max(1, min(MAX_SLICES, math.ceil(est_pages / PAGES_PER_SLICE)))
        if n == 1:
            return [window]
        return _cut(window, oldest, newest, n)


def _cut(window: dict[str, int], oldest: int, newest: int, n: int) -> list[dict[str, int]]:
    """`n` slices of equal time from `oldest` to `newest`, the outer ends the window's."""
    edges = [oldest + (newest + 1 - oldest) * i // n for i in range(n + 1)]
    slices: list[dict[str, int]] = []
    for i in range(n):
        s: dict[str, int] = {}
        if i == 0:
            if "gte" in window:
                s["gte"] = window["gte"]
        else:
            s["gte"] = edges[i]
        if i == n - 1:
            if "lt" in window:
                s["lt"] = window["lt"]
        else:
            s["lt"] = edges[i + 1]
        slices.append(s)
    return slices
