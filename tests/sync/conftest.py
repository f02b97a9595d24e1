"""A second fresh database on the test's backend, for comparisons with a fresh full load."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from etl.db.engine import make_engine
from tests.conftest import fresh_db_url


@pytest.fixture
def other_engine(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Engine]:
    with fresh_db_url(backend, tmp_path, request, "other") as url:
        eng = make_engine(url)
        try:
            yield eng
        finally:
            eng.dispose()


@pytest.fixture
def sqlite_engine_factory(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[object]:
    """Fresh SQLite databases with the schema, as many as a test needs."""
    template = request.getfixturevalue("sqlite_template")
    made: list[Engine] = []

    def make(name: str) -> Engine:
        path = tmp_path / f"{name}.db"
        shutil.copyfile(template, path)
        eng = make_engine(f"sqlite:///{path}")
        made.append(eng)
        return eng

    yield make
    for eng in made:
        eng.dispose()
