"""Invoice files for `etl import-invoices`: the rows of a CSV or JSON file, with the
line each row starts on, so that every problem the validator finds names its line.

A file that cannot be read at all is an error here; a row that is wrong is the
validator's (etl.imports.invoice_rules) to report, with all the others.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from etl.errors import EtlError, UsageError

# What a CSV row with more values than the header has columns is reported as.
EXTRA_VALUES = "row has more values than the header has columns"


def read_invoice_file(path: Path) -> tuple[list[dict[str, Any]], list[int]]:
    """Rows of a CSV (header line first) or JSON (a list of objects) file, with the line
    number each row starts on."""
    try:
        content = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UsageError(f"no such file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    stripped = content.lstrip()
    if path.suffix.lower() == ".json" or stripped.startswith("["):
        return _json_rows(content, path)
    reader = csv.DictReader(io.StringIO(content))
    if not reader.fieldnames:
        raise EtlError(f"{path}: empty file (a CSV header line naming the fields is required)")
    reader.fieldnames = [h.strip() for h in reader.fieldnames]
    rows, lines = [], []
    start = 2
    for rec in reader:
        if None in rec:
            rec.pop(None)
            rec["__extra__"] = EXTRA_VALUES
        rows.append(dict(rec))
        lines.append(start)
        start = reader.line_num + 1
    return rows, lines


def _json_rows(content: str, path: Path) -> tuple[list[dict[str, Any]], list[int]]:
    dec = json.JSONDecoder()
    s = content
    n = len(s)

    def ws(i: int) -> int:
        while i < n and s[i] in " \t\r\n":
            i += 1
        return i

    def fail(i: int, msg: str) -> EtlError:
        return EtlError(f"{path}: line {s.count(chr(10), 0, i) + 1}: {msg}")

    i = ws(0)
    if i >= n or s[i] != "[":
        raise fail(i, "a JSON file must hold a list of invoice objects")
    i = ws(i + 1)
    rows: list[dict[str, Any]] = []
    lines: list[int] = []
    if i < n and s[i] == "]":
        return rows, lines
    while True:
        try:
            obj, j = dec.raw_decode(s, i)
        except json.JSONDecodeError as exc:
            raise fail(exc.pos, f"invalid JSON: {exc.msg}") from None
        rows.append(obj)
        lines.append(s.count("\n", 0, i) + 1)
        i = ws(j)
        if i < n and s[i] == ",":
            i = ws(i + 1)
            continue
        if i < n and s[i] == "]":
            break
        raise fail(i, "expected ',' or ']' between invoice objects")
    if ws(i + 1) != n:
        raise fail(i + 1, "unexpected content after the list")
    return rows, lines
