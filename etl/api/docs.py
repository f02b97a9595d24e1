"""OpenAPI helpers: the error responses every operation documents, and request bodies
accepted both form-encoded (as the seed's curl examples send) and as JSON."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from etl.api import examples
from etl.api.schemas import ErrorBody

_ERROR_TEXT = {
    400: "Invalid parameter; `param` names it",
    401: "No valid API key provided",
    403: "Plain HTTP where HTTPS is required (ETL_REQUIRE_HTTPS)",
    404: "No such object",
    409: "Conflict: the email or id is already taken",
    500: "Unexpected failure; the body carries a request id the server log also has",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    out: dict[int | str, dict[str, Any]] = {}
    for code in (400, 401, 403, *codes, 500):
        out[code] = {"model": ErrorBody, "description": _ERROR_TEXT[code]}
    out[401]["content"] = {"application/json": {"example": examples.ERROR}}
    return out


def ok(example: Any, description: str = "Success") -> dict[int | str, dict[str, Any]]:
    return {
        200: {"description": description, "content": {"application/json": {"example": example}}}
    }


def body(model: type[BaseModel], example: dict[str, Any] | None = None) -> dict[str, Any]:
    """`openapi_extra` for an operation that reads `model` from a JSON or form body."""
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    json_media: dict[str, Any] = {"schema": ref}
    if example is not None:
        json_media["example"] = example
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {"schema": ref},
                "application/json": json_media,
            },
        }
    }
