"""Stripe's list rules over an in-memory account: ordering, cursors, filters.

Each resource is indexed once (and again after the clock moves) as an array sorted
by (created, creation order); a page is a walk down (newest first) or up
(`ending_before`) that array from a position found by bisection, so its cost depends
on the page size, not on the account's size. Equality filters get their own lazily
built position lists, so a `customer=` filter on a large account is as cheap.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]
Params = dict[str, Any]


class ApiError(Exception):
    """An error answered with Stripe's error envelope."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        type_: str = "invalid_request_error",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.type = type_
        self.headers = dict(headers or {})

    def body(self) -> Obj:
        error: Obj = {"type": self.type, "message": self.message}
        if self.code is not None:
            error["code"] = self.code
        if self.param is not None:
            error["param"] = self.param
        if self.code is not None:
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        return {"error": error}


# --- query parameters --------------------------------------------------------------

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_SUBKEY = re.compile(r"\[([^\[\]]*)\]")


def parse_params(pairs: list[tuple[str, str]]) -> Params:
    """Form/query pairs as Stripe reads them: `a[b]=` → dict, `a[]=`/`a[0]=` → list."""
    out: Params = {}
    for raw_key, value in pairs:
        match = _KEY.match(raw_key)
        if not match:
            raise ApiError(400, f"Invalid parameter name: {raw_key}", param=raw_key)
        base, rest = match.group(1), match.group(2)
        subs = _SUBKEY.findall(rest)
        if not subs:
            out[base] = value
        elif len(subs) == 1 and (subs[0] == "" or (subs[0].isascii() and subs[0].isdigit())):
            current = out.setdefault(base, [])
            if not isinstance(current, list):
                raise ApiError(400, f"Invalid array: {base}", param=base)
            current.append(value)
        elif len(subs) == 1:
            current = out.setdefault(base, {})
            if not isinstance(current, dict):
                raise ApiError(400, f"Invalid hash: {base}", param=base)
            current[subs[0]] = value
        else:
            raise ApiError(
                400,
                f"Received unknown parameter: {raw_key}",
                param=raw_key,
                code="parameter_unknown",
            )
    return out


def parse_int(value: Any, param: str) -> int:
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    raise ApiError(400, f"Invalid integer: {value}", param=param, code="parameter_invalid_integer")


def parse_bool(value: Any, param: str) -> bool:
    if value == "true":
        return True
    if value == "false":
        return False
    raise ApiError(400, f"Invalid boolean: {value}", param=param, code="parameter_invalid_boolean")


def parse_limit(params: Params) -> int:
    if "limit" not in params:
        return 10
    limit = parse_int(params["limit"], "limit")
    if limit < 1:
        raise ApiError(
            400,
            "This value must be greater than or equal to 1.",
            param="limit",
            code="parameter_invalid_integer",
        )
    if limit > 100:
        raise ApiError(
            400,
            "This value must be less than or equal to 100.",
            param="limit",
            code="parameter_invalid_integer",
        )
    return limit


def parse_created(value: Any, param: str = "created") -> tuple[int | None, int | None]:
    """`created` as a half-open range [lo, hi) of timestamps (None = unbounded)."""
    if isinstance(value, str):
        exact = parse_int(value, param)
        return exact, exact + 1
    if not isinstance(value, dict):
        raise ApiError(400, f"Invalid {param}", param=param)
    lo: int | None = None
    hi: int | None = None
    for op, raw in value.items():
        ts = parse_int(raw, f"{param}[{op}]")
        if op == "gt":
            lo = ts + 1 if lo is None else max(lo, ts + 1)
        elif op == "gte":
            lo = ts if lo is None else max(lo, ts)
        elif op == "lt":
            hi = ts if hi is None else min(hi, ts)
        elif op == "lte":
            hi = ts + 1 if hi is None else min(hi, ts + 1)
        else:
            raise ApiError(
                400,
                f"Received unknown parameter: {param}[{op}]",
                param=f"{param}[{op}]",
                code="parameter_unknown",
            )
    return lo, hi


# --- index -------------------------------------------------------------------------


def created_of(obj: Mapping[str, Any]) -> int:
    # Invoice items carry `date` rather than `created`.
    value = obj.get("created")
    if value is None:
        value = obj.get("date")
    return int(value or 0)


@dataclass
class ResourceIndex:
    """One resource's objects in ascending (created, creation order)."""

    objects: list[Obj]
    ids: list[str]
    created: list[int]
    position: dict[str, int]
    # (field name) -> value -> ascending positions; built on first use.
    by_field: dict[str, dict[Any, list[int]]] = field(default_factory=dict)

    @classmethod
    def build(cls, objects: Mapping[str, Obj]) -> ResourceIndex:
        ordered = sorted(objects.values(), key=created_of)  # stable: ties keep creation order
        ids = [o["id"] for o in ordered]
        return cls(
            objects=ordered,
            ids=ids,
            created=[created_of(o) for o in ordered],
            position={oid: i for i, oid in enumerate(ids)},
        )

    def positions_where(self, name: str, key: Callable[[Obj], Any], value: Any) -> list[int]:
        table = self.by_field.get(name)
        if table is None:
            table = {}
            for i, obj in enumerate(self.objects):
                table.setdefault(key(obj), []).append(i)
            self.by_field[name] = table
        return table.get(value, [])


@dataclass
class Filter:
    """An equality filter served from a position list, or a predicate checked per object."""

    name: str
    key: Callable[[Obj], Any] | None = None
    value: Any = None
    predicate: Callable[[Obj], bool] | None = None


@dataclass
class Page:
    objects: list[Obj]
    has_more: bool


def select(
    index: ResourceIndex,
    *,
    limit: int,
    starting_after: str | None = None,
    ending_before: str | None = None,
    created: tuple[int | None, int | None] = (None, None),
    filters: list[Filter] | None = None,
    resource_name: str = "object",
) -> Page:
    """One page, newest first, with Stripe's cursor semantics."""
    lo = 0 if created[0] is None else bisect_left(index.created, created[0])
    hi = len(index.ids) if created[1] is None else bisect_left(index.created, created[1])
    backwards = False
    if starting_after is not None:
        hi = min(hi, _cursor(index, starting_after, "starting_after", resource_name))
    elif ending_before is not None:
        lo = max(lo, _cursor(index, ending_before, "ending_before", resource_name) + 1)
        backwards = True

    filters = filters or []
    indexed = [(f, f.key) for f in filters if f.key is not None]
    checks = [f.predicate for f in filters if f.predicate is not None]
    checks += [_equals(key, f.value) for f, key in indexed[1:]]

    if indexed:
        first, first_key = indexed[0]
        candidates = index.positions_where(first.name, first_key, first.value)
        start, stop = bisect_left(candidates, lo), bisect_left(candidates, hi)
        steps = range(start, stop) if backwards else range(stop - 1, start - 1, -1)
        order: Iterator[int] = (candidates[i] for i in steps)
    else:
        order = iter(range(lo, hi)) if backwards else iter(range(hi - 1, lo - 1, -1))

    found: list[Obj] = []
    objects = index.objects
    for pos in order:
        obj = objects[pos]
        if checks and not all(check(obj) for check in checks):
            continue
        found.append(obj)
        if len(found) > limit:
            break
    has_more = len(found) > limit
    found = found[:limit]
    if backwards:
        found.reverse()
    return Page(found, has_more)


def _equals(key: Callable[[Obj], Any], value: Any) -> Callable[[Obj], bool]:
    return lambda obj: key(obj) == value


def _cursor(index: ResourceIndex, oid: str, param: str, resource_name: str) -> int:
    pos = index.position.get(oid)
    if pos is None:
        raise ApiError(
            400, f"No such {resource_name}: '{oid}'", param=param, code="resource_missing"
        )
    return pos


def select_sequence(
    items: list[Obj],
    *,
    limit: int,
    starting_after: str | None,
    ending_before: str | None,
    resource_name: str,
) -> Page:
    """A page of an ordered sub-list (invoice lines): in stored order, not newest first."""
    start, stop = 0, len(items)
    if starting_after is not None or ending_before is not None:
        cursor = starting_after if starting_after is not None else ending_before
        ids = [item.get("id") for item in items]
        try:
            pos = ids.index(cursor)
        except ValueError:
            raise ApiError(
                400,
                f"No such {resource_name}: '{cursor}'",
                param="starting_after" if starting_after is not None else "ending_before",
                code="resource_missing",
            ) from None
        if starting_after is not None:
            start = pos + 1
        else:
            stop = pos
            start = max(0, stop - limit)
            return Page(items[start:stop], start > 0)
    return Page(items[start : start + limit], start + limit < stop)
