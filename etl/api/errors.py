"""The one error envelope of the API, and the handlers that put every failure into it.

`{"error": {"type": "invalid_request_error", "message": "…", "param": "…"}}` as in the
seed (FirstOfficer V2); a 500 carries `request_id` instead of a trace.
"""

from __future__ import annotations

import json
from typing import Any, cast

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

INVALID_REQUEST = "invalid_request_error"
API_ERROR = "api_error"


class ApiError(Exception):
    """A failure the client should see: status, message and, when it has one, the param."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        type_: str = INVALID_REQUEST,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.type = type_
        self.headers = headers


def envelope(
    message: str,
    *,
    param: str | None = None,
    type_: str = INVALID_REQUEST,
    request_id: str | None = None,
) -> dict[str, Any]:
    err: dict[str, Any] = {"type": type_, "message": message}
    if param is not None:
        err["param"] = param
    if request_id is not None:
        err["request_id"] = request_id
    return {"error": err}


def error_response(
    status: int,
    message: str,
    *,
    param: str | None = None,
    type_: str = INVALID_REQUEST,
    request_id: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body = json.dumps(
        envelope(message, param=param, type_=type_, request_id=request_id), ensure_ascii=False
    ).encode()
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def not_found(what: str, ref: str, param: str = "id") -> ApiError:
    return ApiError(404, f"No such {what}: {ref!r}", param=param)


_STATUS_MESSAGES = {
    404: "Unrecognized request URL. See the API reference at /v2/openapi.json.",
    405: "Method not allowed for this URL.",
}


def _validation_param(err: dict[str, Any]) -> str | None:
    loc = [str(x) for x in err.get("loc", ()) if x not in ("body", "query", "path", "header")]
    return loc[0] if loc else None


def validation_message(err: dict[str, Any]) -> str:
    param = _validation_param(err)
    msg = str(err.get("msg", "invalid value"))
    msg = msg.removeprefix("Value error, ")
    return f"Invalid {param}: {msg}" if param else msg


def install_error_handlers(app: FastAPI) -> None:
    # Starlette types every handler as taking Exception, and calls each one only with the
    # class it is registered for below: the casts say so.
    async def api_error(_request: Request, exc: Exception) -> Response:
        err = cast("ApiError", exc)
        return error_response(
            err.status, err.message, param=err.param, type_=err.type, headers=err.headers
        )

    async def http_error(_request: Request, exc: Exception) -> Response:
        http_exc = cast("StarletteHTTPException", exc)
        message = _STATUS_MESSAGES.get(http_exc.status_code) or str(http_exc.detail)
        return error_response(http_exc.status_code, message, headers=dict(http_exc.headers or {}))

    async def invalid(_request: Request, exc: Exception) -> Response:
        errors = cast("RequestValidationError", exc).errors()
        first = errors[0] if errors else {}
        return error_response(400, validation_message(first), param=_validation_param(first))

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)
