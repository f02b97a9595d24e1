"""Authentication: the three header styles, and every way to be refused with the 401 envelope."""

from __future__ import annotations

import base64
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select

from etl.api.auth import key_from_header
from etl.api.keys import API_KEYS, create_key, hash_key, list_keys, revoke_key
from etl.bootstrap import Container


def _basic(user: str, password: str = "") -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_three_styles_are_accepted(make_client: Callable[..., TestClient], api_key: str) -> None:
    client = make_client()
    for header in (f'Token token="{api_key}"', f"Bearer {api_key}", _basic(api_key)):
        r = client.get("/v2/customers", headers={"Authorization": header})
        assert r.status_code == 200, header
        assert r.json() == {"object": "list", "has_more": False, "data": []}


def test_curl_u_style(make_client: Callable[..., TestClient], api_key: str) -> None:
    client = make_client()
    r = client.get("/v2/plans", auth=(api_key, ""))
    assert r.status_code == 200


def test_refusals_are_401_envelopes(
    make_client: Callable[..., TestClient], api_key: str, container: Container
) -> None:
    client = make_client()
    wrong = api_key[:-4] + "AAAA"
    for headers in (
        {},
        {"Authorization": f"Bearer {wrong}"},
        {"Authorization": f'Token token="{wrong}"'},
        {"Authorization": _basic(api_key, "a-password")},
        {"Authorization": "Basic !!!notbase64"},
        {"Authorization": f"Digest {api_key}"},
        {"Authorization": "Bearer"},
    ):
        r = client.get("/v2/mrr", headers=headers)
        assert r.status_code == 401, headers
        err = r.json()["error"]
        assert err["type"] == "invalid_request_error"
        assert err["message"]
        assert "www-authenticate" in r.headers


def test_revoked_key_is_refused(
    make_client: Callable[..., TestClient], api_key: str, container: Container
) -> None:
    client = make_client()
    assert client.get("/v2/customers", auth=(api_key, "")).status_code == 200
    with container.engine.begin() as conn:
        key_id = list_keys(conn)[0].id
        assert revoke_key(conn, key_id) is not None
    # A revocation by another process shows within the key cache's TTL; in process, at once.
    client.app.state.api.keys.invalidate()  # type: ignore[attr-defined]
    assert client.get("/v2/customers", auth=(api_key, "")).status_code == 401


def test_revocation_from_another_process_shows_within_ttl(
    make_client: Callable[..., TestClient], api_key: str, container: Container
) -> None:
    client = make_client(key_ttl=0.0)
    assert client.get("/v2/plans", auth=(api_key, "")).status_code == 200
    with container.engine.begin() as conn:
        revoke_key(conn, list_keys(conn)[0].id)
    assert client.get("/v2/plans", auth=(api_key, "")).status_code == 401


def test_only_the_hash_is_stored(container: Container) -> None:
    with container.engine.begin() as conn:
        info, key = create_key(conn, "x")
        row = conn.execute(select(API_KEYS).where(API_KEYS.c.id == info.id)).one()
    assert key.startswith("etl_live_") and len(key) > 40
    assert row.key_hash == hash_key(key)
    assert key not in (row.key_hash, row.prefix, row.name)
    assert key.startswith(row.prefix) and len(row.prefix) < 16


def test_last_used_is_recorded(
    make_client: Callable[..., TestClient], api_key: str, container: Container
) -> None:
    client = make_client(key_ttl=0.0)
    client.get("/v2/plans", auth=(api_key, ""))
    client.get("/v2/plans", auth=(api_key, ""))  # the refresh after a use records it
    with container.engine.connect() as conn:
        assert list_keys(conn)[0].last_used_at is not None


def test_header_parsing() -> None:
    assert key_from_header('Token token="abc"') == "abc"
    assert key_from_header("token token=abc") == "abc"
    assert key_from_header("Bearer abc") == "abc"
    assert key_from_header(_basic("abc")) == "abc"
    assert key_from_header(_basic("abc", "x")) is None
    assert key_from_header(_basic("")) is None
    assert key_from_header(None) is None
    assert key_from_header("abc") is None


def test_health_and_openapi_need_no_key(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json()["database"] == "ok"
    assert client.get("/v2/openapi.json").status_code == 200
