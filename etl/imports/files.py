"""Invoice files for `etl import-invoices`: the rows of a CSV or JSON file, with the
line each row starts on, so that every problem the validator finds names its line.

A file that cannot be read whole is refused here, every problem listed with its line
(InvoiceFileError): text that is not UTF-8 (with or without BOM; other encodings are
refused, not guessed: cp1252 and Latin-1 cannot be told apart from the bytes), NUL
bytes, a missing or unknown header, an unterminated quote, a field over the CSV limit,
a row with fewer or more values than the header. Rows are never folded into each other
or silently dropped. A row that is wrong is the validator's (etl.imports.invoice_rules)
to report, with all the others.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from pathlib import Path
from typing import Any

from etl.errors import EtlError, UsageError
from etl.imports.invoice_fields import FIELDS, IGNORED

# What a CSV row with more values than the header has columns is reported as.
EXTRA_VALUES = "row has more values than the header has columns"
# Longer than any field the invoice rules accept (TEXT_LIMITS): beyond it a field is
# a quote left open, not a value.
MAX_FIELD_CHARS = 100_000
MAX_LISTED = 20  # problems printed before "…and N more"


class InvoiceFileError(EtlError):
    """The file cannot be read as rows: every problem, each with its line."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(f"{path}: the file cannot be read as invoices; nothing was imported")


def read_invoice_file(path: Path) -> tuple[list[dict[str, Any]], list[int]]:
    """Rows of a CSV (header line first) or JSON (a list of objects) file, with the line
    number each row starts on."""
    content = decode_utf8(path)
    nul_lines = [n for n, text in enumerate(content.split("\n"), 1) if "\x00" in text]
    if nul_lines:
        raise InvoiceFileError(path, [f"line {n}: holds a NUL byte" for n in nul_lines])
    stripped = content.lstrip()
    if path.suffix.lower() == ".json" or stripped.startswith("["):
        return _json_rows(content, path)
    return _csv_rows(content, path)


def decode_utf8(path: Path) -> str:
    """The file's text: UTF-8, a BOM allowed; anything else refused naming the line."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"no such file: {path}") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise UsageError(f"{path}: the file is UTF-16; save it as UTF-8 and import it again")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise UsageError(
            f"{path}: line {line}: byte 0x{data[exc.start]:02x} is not UTF-8; save the "
            f"file as UTF-8 (from Latin-1 or Windows-1252: iconv -f cp1252 -t utf-8 "
            f"{path.name} > utf8-{path.name}) and import it again"
        ) from None


def _csv_header(reader: Any, path: Path) -> list[str]:
    try:
        first = next(reader)
    except StopIteration:
        raise EtlError(
            f"{path}: empty file (a CSV header line naming the fields is required)"
        ) from None
    header = [h.strip() for h in first]
    known = {*FIELDS, *IGNORED}
    if not known.intersection(header):
        raise InvoiceFileError(
            path,
            [f"line 1: no header line: the first line must name the columns ({','.join(FIELDS)})"],
        )
    problems = [
        f"line 1: unknown column {h!r} (known: {', '.join(FIELDS)})"
        for h in header
        if h not in known
    ]
    problems += [
        f"line 1: column {h!r} appears twice" for i, h in enumerate(header) if h in header[:i]
    ]
    if "customer" not in header:
        problems.append("line 1: the header has no 'customer' column (it is required)")
    if problems:
        raise InvoiceFileError(path, problems)
    return header


def _csv_rows(content: str, path: Path) -> tuple[list[dict[str, Any]], list[int]]:
    # strict: a quote left open is an error at the end of the file instead of the rest
    # of the file folded into one field.
    reader = csv.reader(io.StringIO(content, newline=""), strict=True)
    header = _csv_header(reader, path)
    rows: list[dict[str, Any]] = []
    lines: list[int] = []
    problems: list[str] = []
    start = reader.line_num + 1
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(f"line {start}: {_csv_problem(str(exc))}")
            break  # the reader cannot resynchronise after a broken quote
        if values:
            problems += _shape_problems(values, header, start)
            rec: dict[str, Any] = dict(zip(header, values, strict=False))
            if len(values) > len(header):
                rec["__extra__"] = EXTRA_VALUES
            rows.append(rec)
            lines.append(start)
        start = reader.line_num + 1
    if problems:
        raise InvoiceFileError(path, problems)
    if not rows:
        raise EtlError(f"{path}: no invoice rows after the header line")
    return rows, lines


def _shape_problems(values: list[str], header: list[str], line: int) -> list[str]:
    problems = []
    if len(values) < len(header):
        problems.append(
            f"line {line}: row has {len(values)} values, the header has {len(header)} columns"
        )
    for name, value in zip(header, values, strict=False):
        if len(value) > MAX_FIELD_CHARS:
            problems.append(
                f"line {line}: column {name}: {len(value)} characters, more than "
                f"{MAX_FIELD_CHARS} (a quote left open?)"
            )
    return problems


def _csv_problem(message: str) -> str:
    if "unexpected end of data" in message or "EOF" in message:
        return "a quoted field opened on this row is never closed (a missing '\"')"
    if "field larger than field limit" in message:
        return "a field is longer than the CSV limit (a quote left open?)"
    return f"not valid CSV: {message}"


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
    # The line of each object is counted from the previous one, never from the file's
    # start: counting from the start made 100,000 rows quadratic (250 s).
    line, counted_to = 1, 0
    while True:
        try:
            obj, j = dec.raw_decode(s, i)
        except json.JSONDecodeError as exc:
            raise fail(exc.pos, f"invalid JSON: {exc.msg}") from None
        line += s.count("\n", counted_to, i)
        counted_to = i
        rows.append(obj)
        lines.append(line)
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
