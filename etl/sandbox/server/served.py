"""The account as the server serves it: per-resource indexes, cached JSON, expansion.

`ServedAccount` renders each object once per account state (in the API shapes asked
for) and keeps the bytes; the account's clock and object counts identify a state, so
an `advance()` drops the caches. The JSON helpers use orjson when it is installed.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Mapping
from typing import Any, Protocol

try:  # JSON encoding is most of a cold page's cost: orjson does it ~10x faster.
    import orjson
except ImportError:  # pragma: no cover - the stdlib encoder gives the same documents
    orjson = None  # type: ignore[assignment]

from etl.sandbox.server.listing import ApiError, Obj, ResourceIndex
from etl.sandbox.server.resources import EXPANDABLE, MAX_EXPAND_DEPTH
from etl.sandbox.server.shapes import CHARGE_OF_INVOICE, render

JSON_SEPARATORS = (",", ":")


class AccountLike(Protocol):
    """What the server needs of `etl.sandbox.simulation.generator.Account`."""

    now: int
    objects: dict[str, dict[str, Obj]]
    lock: Any

    def advance(self, days: int) -> list[Obj]: ...


class ServedAccount:
    """Indexes and rendered JSON of one account, rebuilt when the account changes.

    All methods expect the caller to hold `account.lock`.
    """

    def __init__(self, account: AccountLike, api_shapes: str) -> None:
        self.account = account
        self.shapes = api_shapes
        self._signature: tuple[Any, ...] | None = None
        self._indexes: dict[str, ResourceIndex] = {}
        # resource -> id -> JSON. Plain str -> bytes dicts are not tracked by the garbage
        # collector, so a cache of every object costs no time in full collections.
        self._json: dict[str, dict[str, bytes]] = {}
        self._charges: dict[str, Obj] | None = None

    def refresh(self) -> None:
        """Drop indexes and cached JSON if the account changed since they were built.

        The generator appends new objects and mutates existing ones when its clock
        moves, so the clock plus the object counts identify a state.
        """
        objects = self.account.objects
        signature = (self.account.now, tuple((k, len(v)) for k, v in objects.items()))
        if signature != self._signature:
            self._indexes.clear()
            self._json.clear()
            self._charges = None
            self._signature = signature

    def invalidate(self) -> None:
        self._signature = None
        self.refresh()

    def index(self, resource: str) -> ResourceIndex:
        idx = self._indexes.get(resource)
        if idx is None:
            idx = ResourceIndex.build(self.account.objects.get(resource, {}))
            self._indexes[resource] = idx
            freeze_heap()  # the index's lists are as long-lived as the account
        return idx

    def lookup(self, resource: str, oid: str) -> Obj | None:
        if resource == CHARGE_OF_INVOICE:
            if self._charges is None:
                charges = getattr(self.account, "charges", None) or {}
                self._charges = {inv: {"id": ch} for ch, inv in charges.items()}
            return self._charges.get(oid)
        return self.account.objects.get(resource, {}).get(oid)

    def json_of(self, resource: str, obj: Obj) -> bytes:
        cache = self._json.get(resource)
        if cache is None:
            cache = self._json[resource] = {}
        oid = obj["id"]
        cached = cache.get(oid)
        if cached is None:
            if resource == "customer" and obj.get("_deleted"):
                cached = dumps(deleted_stub(obj))
            else:
                cached = dumps(render(obj, self.shapes, self.lookup))
            cache[oid] = cached
        return cached

    def dict_of(self, resource: str, obj: Obj) -> Obj:
        result: Obj = loads(self.json_of(resource, obj))
        return result

    # -- expansion

    def expand(self, obj: Obj, paths: list[str]) -> Obj:
        for path in paths:
            parts = path.split(".")
            if len(parts) > MAX_EXPAND_DEPTH:
                raise ApiError(
                    400,
                    f"You cannot expand more than {MAX_EXPAND_DEPTH} levels of a property. "
                    f"Property: {path}",
                    param="expand",
                )
            self._expand(obj, parts, path)
        return obj

    def _expand(self, node: Any, parts: list[str], path: str) -> None:
        if isinstance(node, list):
            for item in node:
                self._expand(item, parts, path)
            return
        if not isinstance(node, dict):
            return
        head, rest = parts[0], parts[1:]
        if head not in node:
            raise ApiError(400, f"This property cannot be expanded ({path}).", param="expand")
        value = node[head]
        resource = EXPANDABLE.get(head)
        if isinstance(value, str):
            if resource is None:
                raise ApiError(400, f"This property cannot be expanded ({path}).", param="expand")
            node[head] = value = self._resolve(resource, value)
        elif isinstance(value, list) and resource is not None:
            node[head] = value = [
                self._resolve(resource, v) if isinstance(v, str) else v for v in value
            ]
        if rest:
            self._expand(value, rest, path)

    def _resolve(self, resource: str, oid: str) -> Any:
        found = self.lookup(resource, oid)
        if found is None:
            return oid  # not served by the sandbox (e.g. charges): stays an id
        return self.dict_of(resource, found)


def freeze_heap() -> None:
    """Keep the account's millions of objects out of the garbage collector's full passes.

    Without this, every full collection (frequent while a client parses pages) walks
    the whole account: pauses of seconds on a 10,000-customer account. Frozen objects
    are never collected until `stop()` unfreezes them.
    """
    gc.freeze()


def deleted_stub(obj: Mapping[str, Any]) -> Obj:
    return {"id": obj["id"], "object": obj.get("object", "customer"), "deleted": True}


def dumps(value: Any) -> bytes:
    if orjson is not None:
        return orjson.dumps(value)
    return json.dumps(value, separators=JSON_SEPARATORS, ensure_ascii=False).encode()


def loads(data: bytes) -> Any:
    return orjson.loads(data) if orjson is not None else json.loads(data)
