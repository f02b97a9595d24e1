"""The hook through which a write refreshes the data derived from invoices.

The revenue lines are the metrics stage's, later in the pipeline than the sync and the
imports that write invoices; those stages take the refresh as an argument, called in the
transaction of each write with the invoice ids it touched (None: every invoice), so that
no stage imports a later one. The composition root passes
`etl.metrics.revenue.refresh_revenue_lines`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from sqlalchemy import Connection

from etl.config import Settings


class DeriveHook(Protocol):
    def __call__(
        self, conn: Connection, settings: Settings, *, invoice_ids: Iterable[str] | None = None
    ) -> object: ...
