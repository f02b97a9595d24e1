"""Exchange rates (`fx_rates`) loaded from a CSV file: currency,month,rate.

A rate converts one unit of `currency` into the reporting currency for one month. The
whole file is validated before anything is written; a bad file changes nothing.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Connection

from etl.currency import iso_currency
from etl.db import tables
from etl.db.upsert import upsert_rows
from etl.errors import EtlError

FX = tables.fx_rates
_MONTH = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2}))?$|^(\d{4})(\d{2})$")


# The message names the first few problems; `.errors` holds them all.
FX_ERRORS_IN_MESSAGE = 5


class FxFileError(EtlError):
    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        hidden = len(errors) - FX_ERRORS_IN_MESSAGE
        more = f" (and {hidden} more)" if hidden > 0 else ""
        super().__init__(
            "invalid exchange-rate file, nothing loaded: "
            + "; ".join(errors[:FX_ERRORS_IN_MESSAGE])
            + more
        )


def parse_month(value: str) -> date:
    m = _MONTH.match(value.strip())
    if not m:
        raise ValueError(f"month {value!r} is not YYYY-MM, YYYY-MM-DD or YYYYMM")
    y, mo = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(5))
    return date(int(y), int(mo), 1)


def parse_fx_csv(content: str, reporting_currency: str | None = None) -> list[dict[str, Any]]:
    """The rates of the file, every bad line listed (FxFileError). A rate of the
    reporting currency itself is refused: it would be stored and never used (a total
    in the reporting currency takes its own amounts at 1)."""
    reader = csv.DictReader(io.StringIO(content))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    if not {"currency", "month", "rate"} <= set(header):
        raise FxFileError(["the header must name the columns currency,month,rate"])
    reader.fieldnames = header
    rows: dict[tuple[str, date], dict[str, Any]] = {}
    errors: list[str] = []
    for rec in reader:
        line = reader.line_num
        cur = (rec.get("currency") or "").strip().lower()
        problems = []
        try:
            iso_currency(cur)
        except ValueError as exc:
            problems.append(f"currency {exc}")
        if reporting_currency is not None and cur == reporting_currency:
            problems.append(
                f"currency {cur} is the reporting currency (ETL_REPORTING_CURRENCY): "
                "it needs no rate; remove the line"
            )
        month = None
        try:
            month = parse_month(rec.get("month") or "")
        except ValueError as exc:
            problems.append(str(exc))
        rate = None
        try:
            rate = Decimal((rec.get("rate") or "").strip())
            if not rate.is_finite() or rate <= 0:
                problems.append(f"rate {rec.get('rate')!r} must be a positive number")
            elif rate != round(rate, 10) or rate >= Decimal(10) ** 10:
                problems.append(
                    f"rate {rec.get('rate')!r} has more than 10 decimals or is too large"
                )
        except InvalidOperation:
            problems.append(f"rate {rec.get('rate')!r} is not a number")
        if not problems and (cur, month) in rows:
            problems.append(f"{cur} {month} appears twice")
        # month and rate stay None only when a problem says why.
        if problems or month is None or rate is None:
            errors.extend(f"line {line}: {p}" for p in problems)
            continue
        rows[(cur, month)] = {"currency": cur, "month": month, "rate": rate}
    if errors:
        raise FxFileError(errors)
    if not rows:
        raise FxFileError(["the file has no rates"])
    return list(rows.values())


def load_fx_rates(conn: Connection, rows: list[dict[str, Any]]) -> int:
    """Insert or replace the rates (one transaction: the caller's)."""
    return upsert_rows(conn, FX, rows)
