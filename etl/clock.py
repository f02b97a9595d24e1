"""The clock: "now" as the database stores it (naive UTC), in one place.

Every timestamp column is UTC without a zone (SQLite has none to keep); code that needs
the current instant calls `utcnow()`, and tests that need a fixed one pass `as_of` or a
clock callable instead of patching this module.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current instant in UTC, without tzinfo (the storage convention)."""
    return datetime.now(UTC).replace(tzinfo=None)
