"""Routes take their state, engine and settings as declared FastAPI dependencies."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from etl.api.deps import get_engine
from etl.bootstrap import Container


def test_dependencies_are_not_parameters_of_the_document(client: TestClient) -> None:
    doc = client.get("/v2/openapi.json").json()
    names = {
        p["name"]
        for item in doc["paths"].values()
        for op in item.values()
        for p in op.get("parameters", [])
    }
    assert not names & {"state", "engine", "settings", "request"}


def test_a_dependency_can_be_overridden(client: TestClient, container: Container) -> None:
    handed_out: list[Engine] = []

    def engine() -> Engine:
        handed_out.append(container.engine)
        return container.engine

    client.app.dependency_overrides[get_engine] = engine  # type: ignore[attr-defined]
    try:
        assert client.get("/healthz").status_code == 200
    finally:
        client.app.dependency_overrides.clear()  # type: ignore[attr-defined]
    assert handed_out == [container.engine]
