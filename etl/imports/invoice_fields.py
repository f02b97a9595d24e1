"""One value of an imported invoice: its type, text, bounds and datetime format.

The rules over one field that need no database; etl.imports.invoice_rules combines
them with the references. The bounds are those of `POST /v2/invoices` and
`etl import-invoices` alike (etl.api.schemas documents them from here).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from etl.errors import EtlError

FIELDS = (
    "id",
    "customer",
    "plan",
    "amount",
    "discount",
    "quantity",
    "currency",
    "date_paid",
    "date",
    "period_start",
    "period_end",
    "subscription_id",
    "description",
)
# Output-only fields of the invoice object, accepted (and ignored) so exported files re-import.
IGNORED = ("object", "amount_paid")
# Ten billion in major units: beyond it a value is a typo, not a price; and a sum of a
# million such amounts still fits the BIGINT columns the metrics add them up in.
MAX_AMOUNT = 10**12
MAX_QUANTITY = 1_000_000
# Text fields and their longest value (the column sizes; an email can be 320 long).
TEXT_LIMITS = {
    "id": 200,
    "customer": 320,
    "plan": 255,
    "subscription_id": 255,
    "currency": 3,
    "description": 5000,
}
# Fields that FirstOfficer sends as integers where text is meant (1340573 for "1340573").
_INTEGER_TEXT = ("id", "customer", "plan", "subscription_id")
ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,200}$"
ID_RE = re.compile(ID_PATTERN)
_INTEGER_RE = re.compile(r"\s*[-+]?\d+\s*")
FIRST_YEAR, LAST_YEAR = 1990, 2099


@dataclass(frozen=True)
class RowError:
    line: int
    param: str
    message: str
    # The row is fine but its id was imported before: the API answers 409, not 400.
    conflict: bool = False

    def __str__(self) -> str:
        return f"line {self.line}: {self.param}: {self.message}"


# The message names the first few problems; `.errors` holds them all.
ROW_ERRORS_IN_MESSAGE = 3


class InvoiceValidationError(EtlError):
    """Some rows are invalid; nothing was imported. `.errors` lists every problem."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        first = "; ".join(str(e) for e in errors[:ROW_ERRORS_IN_MESSAGE])
        hidden = len(errors) - ROW_ERRORS_IN_MESSAGE
        more = f" (and {hidden} more)" if hidden > 0 else ""
        super().__init__(f"{len(errors)} invalid invoice row(s), nothing imported: {first}{more}")


@dataclass
class RowCheck:
    """One row under validation: its line, its fields (blank = None) and its problems."""

    line: int
    fields: dict[str, Any]
    errors: list[RowError] = field(default_factory=list)
    unfit: bool = False  # some text cannot be stored: reported, not looked up

    def fail(self, param: str, message: str, *, conflict: bool = False) -> None:
        self.errors.append(RowError(self.line, param, message, conflict))

    def text(self, name: str) -> str | None:
        v = self.fields[name]
        return None if v is None else str(v).strip()


def is_blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and v.strip() == "")


def parse_datetime(v: Any) -> datetime:
    """ISO 8601 date or datetime (or a Unix time) -> naive UTC. Naive input is taken as UTC."""
    if isinstance(v, datetime):
        dt = v
    elif isinstance(v, date):
        dt = datetime(v.year, v.month, v.day)
    elif isinstance(v, int | float) and not isinstance(v, bool):
        dt = datetime.fromtimestamp(v, UTC)
    else:
        s = str(v).strip()
        if s.endswith(("Z", "z")):
            s = s[:-1] + "+00:00"
        dt = datetime.fromisoformat(s)
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt


# ---------------------------------------------------------------- field rules


def check_fields(raw: dict[Any, Any], row: RowCheck) -> None:
    """No field the invoice object does not have."""
    for k in sorted(str(k) for k in raw if k not in FIELDS and k not in IGNORED):
        # "__extra__": set by the CSV reader for a row with more values than columns
        if k == "__extra__":
            row.fail("row", str(raw[k]))
        else:
            row.fail(k, "unknown field")


def check_text(row: RowCheck) -> bool:
    """Text every database stores as given: a string (or an integer id), no NUL, valid
    Unicode, within the column's length. False when some field is unfit: its value
    must not reach a query (PostgreSQL refuses NUL)."""
    before = len(row.errors)
    for name, limit in TEXT_LIMITS.items():
        v = row.fields[name]
        if v is None:
            continue
        if isinstance(v, int) and not isinstance(v, bool) and name in _INTEGER_TEXT:
            continue
        if not isinstance(v, str):
            row.fail(name, f"must be text, got {v!r}")
        elif "\x00" in v:
            row.fail(name, "must not contain NUL characters")
        elif not _encodes(v):
            row.fail(name, "must be valid Unicode text")
        elif len(v.strip()) > limit:
            row.fail(name, f"is longer than {limit} characters")
    return len(row.errors) == before


def _encodes(v: str) -> bool:
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def integer(row: RowCheck, name: str, *, minimum: int, maximum: int) -> int | None:
    """A whole number of the smallest currency unit (or of seats) within the bounds."""
    v = row.fields[name]
    if isinstance(v, bool):
        row.fail(name, "must be an integer")
        return None
    if isinstance(v, int):
        n = v
    elif (isinstance(v, float) and v.is_integer()) or (
        isinstance(v, str) and _INTEGER_RE.fullmatch(v)
    ):
        n = int(v)
    else:
        row.fail(name, f"must be an integer in the smallest currency unit, got {v!r}")
        return None
    if n < minimum:
        row.fail(name, f"must be ≥ {minimum}, got {n}")
        return None
    if n > maximum:
        row.fail(name, f"must be ≤ {maximum}, got {n}")
        return None
    return n


def datetime_field(row: RowCheck, name: str) -> datetime | None:
    v = row.fields[name]
    try:
        dt = parse_datetime(v)
    except (ValueError, TypeError, OverflowError, OSError):
        row.fail(name, f"must be an ISO 8601 datetime such as 2016-05-05T10:26:26+00:00, got {v!r}")
        return None
    if not FIRST_YEAR <= dt.year <= LAST_YEAR:
        row.fail(name, f"{dt.date().isoformat()} is outside the years {FIRST_YEAR}–{LAST_YEAR}")
        return None
    return dt
