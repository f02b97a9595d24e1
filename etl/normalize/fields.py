"""Reading the fields of a Stripe object: timestamps, references, integers, JSON text.

Every normalizer reads Stripe's loosely typed dicts the same way and fails the same way
(`Malformed`, so that the object is stored raw and counted); these readers are that one
way, shared by the per-family modules.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

_EPOCH = datetime(1970, 1, 1)

Row = dict[str, Any]


class Malformed(ValueError):  # noqa: N818 - not a failure: the object is kept raw, counted
    """The object cannot be normalized; it is kept raw and counted."""


@dataclass
class Normalized:
    """Rows for one object and its children, by table."""

    rows: dict[str, list[Row]] = field(default_factory=dict)
    # Discount ids the object references without their content (not expanded).
    unexpanded_discounts: list[str] = field(default_factory=list)

    def add(self, table: str, row: Row) -> None:
        self.rows.setdefault(table, []).append(row)


def ts(value: Any) -> datetime | None:
    """Epoch seconds → naive UTC datetime (None stays None)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Malformed(f"timestamp expected, got {value!r}")
    return _EPOCH + timedelta(seconds=int(value))


def ref_id(value: Any) -> str | None:
    """An id whether the field holds the id or the expanded object."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        v = value.get("id")
        return v if isinstance(v, str) else None
    raise Malformed(f"reference expected, got {type(value).__name__}")


def required(obj: Mapping[str, Any], key: str) -> Any:
    """obj[key], which the object's table cannot do without."""
    value = obj.get(key)
    if value is None:
        raise Malformed(f"{obj.get('object', 'object')} {obj.get('id')!r} has no {key}")
    return value


def integer(value: Any, default: int | None = 0) -> int | None:
    """An integer field (digits in a string accepted); `default` when absent."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.isascii() and value.lstrip("-").isdigit():
            return int(value)
        raise Malformed(f"integer expected, got {value!r}")
    return value


def json_text(value: Any) -> str | None:
    """Metadata and the like as canonical JSON text (None when empty)."""
    if not value:
        return None
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def sum_amounts(items: Any) -> int:
    """The sum of the `amount` of a list of amounts (taxes, discounts)."""
    if not items:
        return 0
    total = 0
    for it in items:
        total += integer(it.get("amount"), 0) or 0
    return total


def as_mapping(value: Any) -> Mapping[str, Any]:
    """The field if it is an object, else an empty one (absent, null, or an id)."""
    return value if isinstance(value, Mapping) else {}
