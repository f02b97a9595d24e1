"""The raw layer's text of an object: the compact JSON Stripe sent, and its raw_objects row.

Each object is stored once per distinct content, identified by the SHA-256 of this text;
the text must therefore be the same whoever renders it (a thread, a worker process, a
later run), and it is rendered fast, since every object of a load goes through it.
Pure: no I/O.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from etl.normalize.fields import ts


def content_bytes(obj: Mapping[str, Any]) -> bytes:
    """`json.dumps(obj, separators=(",", ":"))` as bytes, by orjson (several times faster)
    made to write the same text: non-ASCII characters and DEL escaped as json escapes
    them. Where the two may still differ (floats below 1e-4, which they write in
    different notations; integers beyond 64 bits) the stdlib, so that stored hashes
    stay comparable.

    Stripe's key order is stable for an API version, so the text as received (compact)
    identifies a version; sorting keys would double the cost of the raw layer."""
    try:
        out = orjson.dumps(obj)
    except TypeError:
        return json.dumps(obj, separators=(",", ":")).encode()
    if not out.isascii():
        out = out.decode().encode("ascii", _JSON_ESCAPE)
    if b"\x7f" in out:
        out = out.replace(b"\x7f", b"\\u007f")
    # (The substring tests first: the pattern alone would cost more than the dumps.)
    if (b"e-" in out or b"0.0000" in out) and _FLOATS_JSON_WRITES_OTHERWISE.search(out):
        return json.dumps(obj, separators=(",", ":")).encode()
    return out


_FLOATS_JSON_WRITES_OTHERWISE = re.compile(rb"\de-\d|[:,\[]-?0\.0000")
_JSON_ESCAPE = "etl-json-ascii"


def _json_escape(err: UnicodeError) -> tuple[str, int]:
    """json's ensure_ascii escapes: \\uXXXX in lower case, surrogate pairs beyond the BMP."""
    if not isinstance(err, UnicodeEncodeError):
        raise err  # registered for encoding only: a decoding error stays what it is
    out = []
    for ch in err.object[err.start : err.end]:
        o = ord(ch)
        if o > 0xFFFF:
            o -= 0x10000
            out.append(f"\\u{0xD800 | (o >> 10):04x}\\u{0xDC00 | (o & 0x3FF):04x}")
        else:
            out.append(f"\\u{o:04x}")
    return "".join(out), err.end


codecs.register_error(_JSON_ESCAPE, _json_escape)


def raw_rows(
    objects: Sequence[tuple[Mapping[str, Any], bool]],
    *,
    run_id: int | None,
    source: str,
    api_version: str | None,
) -> list[dict[str, Any]]:
    """raw_objects rows for (object, malformed) pairs: pure, so fetch threads can build them.
    `fetched_at` is left for the writer to set."""
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    for obj, malformed in objects:
        data = content_bytes(obj)
        digest = hashlib.sha256(data).hexdigest()
        text = data.decode("ascii")
        otype = str(obj.get("object") or "unknown")
        sid = str(obj.get("id") or "")
        created = obj.get("created", obj.get("date"))
        rows[(otype, sid, digest)] = {
            "object_type": otype,
            "stripe_id": sid,
            "api_version": api_version,
            "created": ts(created) if isinstance(created, int) else None,
            "fetched_at": None,
            "sync_run_id": run_id,
            "source": source,
            "deleted": bool(obj.get("deleted")),
            "malformed": malformed,
            "is_current": True,
            "content_hash": digest,
            "data": text,
        }
    return list(rows.values())
