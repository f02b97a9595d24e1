"""What the parts of one sync run share: the database, Stripe, the options, the summary.

The full load and the incremental are separate modules; each writes pages through
`SyncContext.write_objects` or `after_page`, so that the summary counts and the
revenue lines are kept the same way whoever wrote.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import stripe
from sqlalchemy import Connection, Engine

from etl.clock import utcnow
from etl.config import Settings
from etl.extract.client import API_VERSION
from etl.extract.fetch import StripeApi
from etl.load.derive import DeriveHook
from etl.load.save import save_objects
from etl.logs import get_logger
from etl.normalize.page import PageResult
from etl.sync.options import SyncOptions, SyncSummary
from etl.sync.progress import Progress

log = get_logger("etl.sync")


def is_auth_error(exc: BaseException) -> bool:
    """The key is refused or lacks a permission: nothing to skip, the run must stop."""
    return isinstance(exc, stripe.AuthenticationError | stripe.PermissionError)


@dataclass
class SyncContext:
    engine: Engine
    settings: Settings
    options: SyncOptions
    api: StripeApi
    summary: SyncSummary
    progress: Progress
    derive: DeriveHook | None = None
    # While a full load runs, revenue lines wait for its end (see `after_page`).
    loading: bool = False

    def after_page(self, conn: Connection, res: PageResult) -> None:
        """Count a written page into the summary; refresh what depends on its invoices."""
        s = self.summary
        for k, v in res.counts.items():
            s.counts[k] += v
            s.objects += v
        if res.malformed:
            s.malformed += len(res.malformed)
            s.malformed_ids.extend(res.malformed)
            s.counts["malformed"] += len(res.malformed)
        touched = [*res.invoice_ids, *res.deleted_invoice_ids]
        # During a full load revenue lines are rebuilt once at the end (cheaper than per
        # page, and a resumed load ends the same way); incremental pages refresh theirs.
        if touched and self.derive is not None and not self.loading:
            self.derive(conn, self.settings, invoice_ids=touched)
        self.summary.touched_invoices.update(touched)

    def write_objects(
        self,
        conn: Connection,
        objs: Sequence[dict[str, Any]],
        *,
        source: str,
        api_version: str | None = API_VERSION,
        now: datetime | None = None,
    ) -> None:
        """Write objects fetched outside a full load's pages, in `conn`'s transaction."""
        res = save_objects(
            conn,
            objs,
            now=now or utcnow(),
            run_id=self.summary.run_id,
            source=source,
            api_version=api_version,
            extra_id_key=self.settings.extra_id_metadata_key,
        )
        self.after_page(conn, res)

    def skip(self, resource: str, exc: Exception) -> None:
        """A resource this Stripe does not serve: logged, reported, not an error."""
        log.warning(
            "resource_skipped",
            resource=resource,
            reason=f"not served by this Stripe ({getattr(exc, 'http_status', '?')})",
        )
        if resource not in self.summary.skipped:
            self.summary.skipped.append(resource)
