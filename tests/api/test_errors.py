"""The error envelope on every failure, the HTTPS rule, and the one log line per request."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from etl.logs import configure_logging


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    buf = io.StringIO()
    configure_logging("info", "json", stream=buf)
    yield buf
    configure_logging("info", "json", stream=sys.stderr)


def _lines(buf: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buf.getvalue().splitlines() if line.strip()]


def test_unknown_route_and_method(client: TestClient) -> None:
    for path in ("/v2/nothing", "/", "/v3/mrr", "/v2/customers/1/extra"):
        r = client.get(path)
        assert r.status_code == 404, path
        assert r.json()["error"]["type"] == "invalid_request_error"
    r = client.delete("/v2/customers")
    assert r.status_code == 405
    assert set(r.json()) == {"error"} and r.json()["error"]["message"]
    assert client.patch("/v2/plans/x").status_code == 405


def test_500_has_request_id_and_no_trace(
    make_client: Callable[..., TestClient], api_key: str, log_stream: io.StringIO
) -> None:
    client = make_client(api_key)

    async def boom() -> None:
        raise RuntimeError("secret internal detail")

    client.app.add_api_route("/v2/boom", boom)  # type: ignore[attr-defined]
    r = client.get("/v2/boom")
    assert r.status_code == 500
    err = r.json()["error"]
    assert err["type"] == "api_error"
    rid = err["request_id"]
    assert rid and rid in err["message"] and r.headers["x-request-id"] == rid
    assert "secret internal detail" not in r.text and "Traceback" not in r.text
    lines = _lines(log_stream)
    failure = [x for x in lines if x["event"] == "api.unhandled_error"]
    request = [x for x in lines if x["event"] == "api.request" and x["path"] == "/v2/boom"]
    assert failure and failure[0]["request_id"] == rid
    assert request and request[0]["request_id"] == rid and request[0]["status"] == 500


def test_one_log_line_per_request_without_the_key(
    make_client: Callable[..., TestClient], api_key: str, log_stream: io.StringIO
) -> None:
    client = make_client()
    client.get("/v2/customers", headers={"Authorization": f'Token token="{api_key}"'})
    client.get("/v2/mrr", auth=(api_key, ""))
    client.get("/v2/plans", headers={"Authorization": "Bearer etl_live_wrongwrongwrongwrongwrong"})
    lines = [x for x in _lines(log_stream) if x["event"] == "api.request"]
    assert [(x["method"], x["path"], x["status"]) for x in lines] == [
        ("GET", "/v2/customers", 200),
        ("GET", "/v2/mrr", 200),
        ("GET", "/v2/plans", 401),
    ]
    for x in lines:
        assert isinstance(x["duration_ms"], float) and x["request_id"]
    text = log_stream.getvalue()
    assert api_key not in text and "wrongwrong" not in text


def test_request_ids_are_unique_and_returned(client: TestClient) -> None:
    a = client.get("/v2/plans").headers["x-request-id"]
    b = client.get("/v2/plans").headers["x-request-id"]
    assert a != b
    assert (
        client.get("/v2/plans", headers={"X-Request-Id": "trace-12345678"}).headers["x-request-id"]
        == "trace-12345678"
    )


def test_https_required(make_client: Callable[..., TestClient], api_key: str) -> None:
    client = make_client(api_key, require_https=True)
    r = client.get("/v2/customers")
    assert r.status_code == 403
    assert "HTTPS" in r.json()["error"]["message"]
    assert client.get("/v2/customers", headers={"X-Forwarded-Proto": "https"}).status_code == 200
    assert client.get("/healthz").status_code == 200
    secure = make_client(api_key, require_https=True)
    secure.base_url = secure.base_url.copy_with(scheme="https")
    assert secure.get("/v2/customers").status_code == 200


def test_https_not_required_by_default(client: TestClient) -> None:
    assert client.get("/v2/customers").status_code == 200


def test_nul_in_url_is_400(client: TestClient) -> None:
    assert client.get("/v2/customers", params={"email": "a\x00b"}).status_code == 400
    assert client.get("/v2/customers/a%00b").status_code == 400


def test_unsupported_body_type(client: TestClient) -> None:
    r = client.post("/v2/plans", content=b"id=x", headers={"content-type": "text/plain"})
    assert r.status_code == 400


def test_repeated_parameter_is_400(client: TestClient) -> None:
    r = client.get("/v2/customers?limit=5&limit=6")
    assert r.status_code == 400 and r.json()["error"]["param"] == "limit"
