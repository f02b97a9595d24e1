"""The incremental: the events after the stored cursors, then what events cannot settle.

Two type-filtered event streams are read page by page; of each page, every object's
latest state is written with the stream's cursor, in one transaction. What a payload
lacks is fetched again (invoice lines beyond the first page, discounts named by id the
tables do not know), and draft and open invoices are refreshed until they are final
(Stripe sends no event for some of their changes).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import stripe

from etl.clock import utcnow
from etl.extract import fetch as f
from etl.extract.client import API_VERSION
from etl.extract.types import carries_discount_ids
from etl.load.catalogue import refresh_plan_names
from etl.load.save import link_refunds
from etl.logs import get_logger
from etl.sync.context import SyncContext, is_auth_error
from etl.sync.cursors import cursor_state, load_cursors, save_cursor
from etl.sync.stored import known_discounts, unfinished_invoices

log = get_logger("etl.sync")

EVENTS_RETENTION = timedelta(days=30)

# An object as an event carried it, and the API version of that payload.
Versioned = tuple[dict[str, Any], str | None]


class Incremental:
    def __init__(self, ctx: SyncContext) -> None:
        self.ctx = ctx

    def run(self) -> bool:
        """Apply events after the cursors. False when a cursor is too old (full load needed)."""
        ctx = self.ctx
        with ctx.engine.connect() as conn:
            cursors = load_cursors(conn, "events:")
        now = utcnow()
        for stream, types in f.EVENT_STREAMS.items():
            row = cursors.get(stream)
            if row is None:
                continue
            state = cursor_state(row)
            if state.get("available") is False:
                continue
            checked = state.get("checked_at")
            if checked is not None and now - datetime.fromisoformat(checked) > EVENTS_RETENTION:
                # Events we have not read may already be gone from Stripe.
                return False
            try:
                self._apply_stream(stream, types, row.cursor, now)
            except stripe.StripeError as exc:
                status = getattr(exc, "http_status", None)
                if status == 400 and getattr(exc, "code", None) == "resource_missing":
                    return False  # the cursor's event is gone: older than Stripe keeps
                if status in (400, 404) and not is_auth_error(exc):
                    self._stream_unavailable(stream)
                    continue
                raise
        if ctx.summary.kind == "incremental":
            # (Right after a full load every invoice was just fetched.)
            self._refresh_unfinished_invoices()
        with ctx.engine.begin() as conn:
            refresh_plan_names(conn)
            link_refunds(conn)
        return True

    def _stream_unavailable(self, stream: str) -> None:
        """A Stripe look-alike without events or their filters: full loads find changes."""
        log.warning(
            "events_unavailable",
            stream=stream,
            message="this Stripe cannot list events after a cursor; "
            "changes will be found by full loads",
        )
        with self.ctx.engine.begin() as conn:
            save_cursor(
                conn,
                stream,
                cursor=None,
                phase="full",
                state={"available": False},
                run_id=self.ctx.summary.run_id,
                now=utcnow(),
            )

    def _apply_stream(
        self, stream: str, types: tuple[str, ...], cursor: str | None, started: datetime
    ) -> None:
        ctx = self.ctx
        created: Any = None
        for events in f.fetch_events_after(ctx.api, cursor, types):
            if not events:  # no event in Stripe's 30 days is a normal state, not an error
                continue
            objs = self._complete(_latest_objects(events))
            newest = events[-1]
            now = utcnow()
            with ctx.engine.begin() as conn:
                by_version: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
                for obj, version in objs:
                    by_version[version].append(obj)
                for version, group in by_version.items():
                    ctx.write_objects(conn, group, source="event", api_version=version, now=now)
                save_cursor(
                    conn,
                    stream,
                    cursor=newest["id"],
                    phase="incremental",
                    state={"created": newest.get("created"), "available": True},
                    run_id=ctx.summary.run_id,
                    now=now,
                )
            cursor, created = newest["id"], newest.get("created")
            ctx.progress.advance("events", len(events))
        # Read to the end: the cursor is current as of `started`.
        if created is None:
            created = self._cursor_created(stream)
        with ctx.engine.begin() as conn:
            save_cursor(
                conn,
                stream,
                cursor=cursor,
                phase="incremental",
                state={"created": created, "checked_at": started.isoformat(), "available": True},
                run_id=ctx.summary.run_id,
                now=utcnow(),
            )

    def _cursor_created(self, stream: str) -> Any:
        with self.ctx.engine.connect() as conn:
            row = load_cursors(conn, stream).get(stream)
        return cursor_state(row).get("created")

    def _complete(self, latest: Mapping[tuple[str, str], Versioned]) -> list[Versioned]:
        """Fetch again what an event payload lacks: invoice lines beyond the first page,
        discounts referenced by id that the database does not know yet."""
        api = self.ctx.api
        bare: dict[tuple[str, str], list[str]] = {}
        for key, (obj, _v) in latest.items():
            if obj.get("deleted") or not carries_discount_ids(key[0]):
                continue
            ids = [d for d in obj.get("discounts") or [] if isinstance(d, str)]
            if ids:
                bare[key] = ids
        unknown: set[str] = set()
        if bare:
            with self.ctx.engine.connect() as conn:
                all_ids = {i for ids in bare.values() for i in ids}
                unknown = all_ids - known_discounts(conn, all_ids)
        out = []
        for key, stored in latest.items():
            obj, version = stored
            if not obj.get("deleted") and key in bare and set(bare[key]) & unknown:
                try:
                    obj, version = f.retrieve(api, key[0], key[1]), API_VERSION
                except stripe.InvalidRequestError as exc:
                    if getattr(exc, "http_status", None) != 404:
                        raise
            elif key[0] == "invoice" and not obj.get("deleted"):
                f.complete_invoice_lines(api, obj)
            out.append((obj, version))
        return out

    def _refresh_unfinished_invoices(self) -> None:
        """Drafts and open invoices are fetched again until they are final."""
        ctx = self.ctx
        seen: set[str] = set()
        spec = f.RESOURCE_BY_NAME["invoices"]
        for status in ("draft", "open"):
            try:
                for page in f.fetch_pages(
                    ctx.api, spec.path, {**spec.params, "status": status}, complete_invoices=True
                ):
                    seen.update(o["id"] for o in page.objects)
                    self._save(page.objects, "list")
            except stripe.StripeError as exc:
                if is_auth_error(exc) or isinstance(exc, stripe.RateLimitError):
                    raise
                # Without the status filter, the stored drafts and open invoices are
                # fetched one by one below.
                log.info("invoice_status_filter_unavailable", status=status, error=str(exc)[:200])
                continue
        with ctx.engine.connect() as conn:
            left = [i for i in unfinished_invoices(conn) if i not in seen]
        objs = []
        for iid in left:
            try:
                objs.append(f.retrieve(ctx.api, "invoice", iid))
            except stripe.StripeError as exc:
                if getattr(exc, "http_status", None) == 404 and not is_auth_error(exc):
                    objs.append({"id": iid, "object": "invoice", "deleted": True})
                else:
                    raise
        self._save(objs, "retrieve")

    def _save(self, objs: list[dict[str, Any]], source: str) -> None:
        if objs:
            with self.ctx.engine.begin() as conn:
                self.ctx.write_objects(conn, objs, source=source)


def _latest_objects(events: list[dict[str, Any]]) -> dict[tuple[str, str], Versioned]:
    """Of a page of events (oldest first), each object's latest state, by (type, id)."""
    latest: dict[tuple[str, str], Versioned] = {}
    for ev in events:
        obj = (ev.get("data") or {}).get("object")
        if not isinstance(obj, dict) or not obj.get("id"):
            continue
        etype = str(ev.get("type", ""))
        # (A subscription's `.deleted` event carries it canceled, not gone.)
        if etype.endswith(".deleted") and not etype.startswith("customer.subscription."):
            obj = {**obj, "deleted": True}
        otype = str(obj.get("object"))
        latest[(otype, obj["id"])] = (obj, ev.get("api_version"))
    return latest
