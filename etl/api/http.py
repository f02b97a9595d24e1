"""Request and response plumbing shared by the routes: bodies, input models, JSON, cache."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from etl.api.errors import ApiError

M = TypeVar("M", bound=BaseModel)
JSON_TYPE = "application/json"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


def json_response(obj: Any, status: int = 200) -> Response:
    return Response(dumps(obj), status_code=status, media_type=JSON_TYPE)


async def read_body(request: Request) -> dict[str, Any]:
    """The request's parameters from a JSON object or a form-encoded body ({} when empty)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype in FORM_TYPES:
        form = await request.form()
        data: dict[str, Any] = {}
        for k, v in form.multi_items():
            if not isinstance(v, str):
                raise ApiError(400, f"Parameter {k!r} must be a text value, not a file", param=k)
            data[k] = v
        return data
    raw = await request.body()
    if not raw.strip():
        return {}
    if ctype and ctype != JSON_TYPE and not ctype.endswith("+json"):
        raise ApiError(
            400,
            f"Unsupported content type {ctype!r}: send application/json or "
            "application/x-www-form-urlencoded",
        )
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "The request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object")
    return body


def parse_input(model: type[M], data: dict[str, Any]) -> M:
    """Validate parameters; the first problem becomes a 400 that names its param."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(x) for x in err.get("loc", ())]
        param = loc[0] if loc else None
        kind = err.get("type")
        if kind == "missing":
            message = f"Missing required param: {param}."
        elif kind == "extra_forbidden":
            message = f"Received unknown parameter: {param}."
        else:
            msg = str(err.get("msg", "invalid value"))
            msg = msg.removeprefix("Value error, ")
            message = f"Invalid {param}: {msg}"
        raise ApiError(400, message, param=param) from None


def cache_key(scope: Any) -> str:
    """The same key for the route that stores a body and the middleware that serves it."""
    path: str = scope["path"]
    query: bytes = scope.get("query_string", b"")
    return path + "?" + query.decode("latin-1")


class ResponseCache:
    """Serialized bodies of hot GET responses.

    Every in-process write and every finished recompute calls `invalidate()`; the short
    TTL bounds how long a change made by another process (a sync, `etl recompute`)
    takes to show. A computation that overlapped an invalidation is not stored.
    """

    def __init__(self, ttl: float = 1.0, max_entries: int = 1024) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, bytes]] = {}
        self._generation = 0
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries = {}

    def get(self, key: str) -> bytes | None:
        hit = self._entries.get(key)
        if hit is None or hit[0] < time.monotonic():
            return None
        return hit[1]

    @property
    def generation(self) -> int:
        return self._generation

    def put(self, key: str, body: bytes, generation: int) -> None:
        with self._lock:
            if generation != self._generation:
                return
            if len(self._entries) >= self.max_entries:
                self._entries = {}
            self._entries[key] = (time.monotonic() + self.ttl, body)


async def cached(request: Request, build: Callable[[], Any]) -> Response:
    """The JSON of `build()` (run in a worker thread), served from the cache when fresh."""
    state = request.app.state.api
    cache: ResponseCache = state.cache
    key = cache_key(request.scope)
    body = cache.get(key)
    if body is None:
        generation = cache.generation
        if state.engine.dialect.name == "sqlite":
            # A read of a local SQLite file in WAL mode never waits for a writer and is
            # CPU work under the GIL: a worker thread adds only its hop, GIL hand-offs
            # and, with many requests in flight, pool overflow connections opened and
            # closed per request (together more than the read itself). PostgreSQL reads
            # wait on the network, so they stay off the event loop.
            body = dumps(build())
        else:
            body = dumps(await run_in_threadpool(build))
        cache.put(key, body, generation)
    return Response(body, media_type=JSON_TYPE)
