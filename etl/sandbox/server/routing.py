"""Request routing and the read endpoints: list, retrieve, invoice and credit note lines,
and the clock test helper, with Stripe's parameter validation and error messages.

`Router` is called with the account lock held; it answers with bytes (cached JSON
joined without re-encoding) or with a dict to encode.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from etl.sandbox.server.listing import (
    ApiError,
    Filter,
    Obj,
    Page,
    Params,
    parse_created,
    parse_int,
    parse_limit,
    select,
    select_sequence,
)
from etl.sandbox.server.resources import COLLECTIONS, LIST_PARAMS, Collection
from etl.sandbox.server.served import ServedAccount, dumps, loads
from etl.sandbox.server.shapes import render

ADVANCE_PATH = "/v1/test_helpers/advance"
Handler = Callable[[], Obj | bytes]


class Router:
    """Maps a request to its endpoint over one served account."""

    def __init__(
        self, served: ServedAccount, api_shapes: str, advance: Callable[[int], Obj]
    ) -> None:
        self.served = served
        self.api_shapes = api_shapes
        self._advance_clock = advance

    def route(self, method: str, path: str, params: Params) -> tuple[str, Handler]:
        """(path template, handler) for a request; raises ApiError for unknown routes."""
        parts = [p for p in path.split("/") if p]
        if len(parts) >= 2 and parts[0] == "v1":
            if parts[1:] == ["test_helpers", "advance"] and method == "POST":
                return ADVANCE_PATH, lambda: self._advance(params)
            collection = COLLECTIONS.get(parts[1])
            if collection is not None and method == "GET":
                if len(parts) == 2:
                    return f"/v1/{collection.path}", lambda: self._list(collection, params)
                if len(parts) == 3:
                    return f"/v1/{collection.path}/{{id}}", lambda: self._retrieve(
                        collection, parts[2], params
                    )
                if (
                    len(parts) == 4
                    and parts[3] == "lines"
                    and collection.path
                    in (
                        "invoices",
                        "credit_notes",
                    )
                ):
                    return f"/v1/{collection.path}/{{id}}/lines", lambda: self._lines(
                        collection, parts[2], params
                    )
            if collection is not None and method != "GET":
                raise ApiError(
                    400,
                    f"The Stripe sandbox is read-only: {method} {path} is not supported "
                    "(only GET, and POST /v1/test_helpers/advance).",
                )
        raise ApiError(
            404,
            f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
            "or we can help at https://support.stripe.com/.",
        )

    # -- endpoints (called with the account lock held)

    def _list(self, collection: Collection, params: Params) -> bytes:
        allowed = (*LIST_PARAMS, *collection.filters)
        _reject_unknown(params, allowed)
        limit = parse_limit(params)
        starting_after = _opt_str(params, "starting_after")
        ending_before = _opt_str(params, "ending_before")
        if starting_after is not None and ending_before is not None:
            raise ApiError(
                400,
                "You may only specify one of these parameters: ending_before, starting_after.",
                param="ending_before",
            )
        created = parse_created(params["created"]) if "created" in params else (None, None)
        expand = _expand_param(params)
        for path in expand:
            if not path.startswith("data."):
                raise ApiError(400, f"This property cannot be expanded ({path}).", param="expand")
        if "type" in params and "types" in params:
            raise ApiError(400, "You may only specify one of type and types.", param="types")
        filters = [
            make(params[name]) for name, make in collection.filters.items() if name in params
        ]
        for default in collection.default_filters:
            extra = default(params)
            if extra is not None:
                filters.append(extra)
        if collection.resource == "customer":
            filters.append(Filter("deleted", predicate=lambda o: not o.get("_deleted")))

        served = self.served
        page = select(
            served.index(collection.resource),
            limit=limit,
            starting_after=starting_after,
            ending_before=ending_before,
            created=created,
            filters=filters,
            resource_name=collection.resource,
        )
        url = f"/v1/{collection.path}"
        if expand:
            data = [served.dict_of(collection.resource, o) for o in page.objects]
            inner = [p[len("data.") :] for p in expand]
            for obj in data:
                served.expand(obj, inner)
            return dumps({"object": "list", "data": data, "has_more": page.has_more, "url": url})
        return _list_bytes(
            [served.json_of(collection.resource, o) for o in page.objects], page.has_more, url
        )

    def _retrieve(self, collection: Collection, oid: str, params: Params) -> Obj | bytes:
        _reject_unknown(params, ("expand",))
        obj = self.served.lookup(collection.resource, oid)
        if obj is None:
            raise ApiError(
                404, f"No such {collection.resource}: '{oid}'", param="id", code="resource_missing"
            )
        expand = _expand_param(params)
        if not expand or obj.get("_deleted"):
            return self.served.json_of(collection.resource, obj)
        return self.served.expand(self.served.dict_of(collection.resource, obj), expand)

    def _lines(self, collection: Collection, oid: str, params: Params) -> bytes:
        _reject_unknown(params, ("limit", "starting_after", "ending_before", "expand"))
        obj = self.served.lookup(collection.resource, oid)
        if obj is None:
            raise ApiError(
                404, f"No such {collection.resource}: '{oid}'", param="id", code="resource_missing"
            )
        limit = parse_limit(params)
        lines = obj.get("lines") or {}
        all_lines = list(lines.get("data") or []) if isinstance(lines, dict) else list(lines)
        page: Page = select_sequence(
            all_lines,
            limit=limit,
            starting_after=_opt_str(params, "starting_after"),
            ending_before=_opt_str(params, "ending_before"),
            resource_name="line_item"
            if collection.resource == "invoice"
            else "credit_note_line_item",
        )
        data = [self._render_line(line) for line in page.objects]
        expand = _expand_param(params)
        if expand:
            # Rendered lines share nested values with the stored ones: copy before expanding.
            data = loads(dumps(data))
            inner = [p.removeprefix("data.") for p in expand]
            for item in data:
                self.served.expand(item, inner)
        return dumps(
            {
                "object": "list",
                "data": data,
                "has_more": page.has_more,
                "url": f"/v1/{collection.path}/{oid}/lines",
            }
        )

    def _render_line(self, line: Obj) -> Obj:
        return render(line, self.api_shapes, self.served.lookup)

    def _advance(self, params: Params) -> Obj:
        _reject_unknown(params, ("days",))
        if "days" not in params:
            raise ApiError(
                400, "Missing required param: days.", param="days", code="parameter_missing"
            )
        days = parse_int(params["days"], "days")
        if not 1 <= days <= 3660:
            raise ApiError(
                400,
                "days must be between 1 and 3660.",
                param="days",
                code="parameter_invalid_integer",
            )
        return self._advance_clock(days)


def _reject_unknown(params: Params, allowed: tuple[str, ...]) -> None:
    for name in params:
        if name not in allowed:
            raise ApiError(
                400, f"Received unknown parameter: {name}", param=name, code="parameter_unknown"
            )


def _opt_str(params: Params, name: str) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ApiError(400, f"Invalid string: {name}", param=name)
    return value


def _expand_param(params: Params) -> list[str]:
    value = params.get("expand")
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value]
    raise ApiError(400, "Invalid array", param="expand")


def _list_bytes(items: list[bytes], has_more: bool, url: str) -> bytes:
    return b"".join(
        (
            b'{"object":"list","data":[',
            b",".join(items),
            b'],"has_more":',
            b"true" if has_more else b"false",
            b',"url":',
            json.dumps(url).encode(),
            b"}",
        )
    )
