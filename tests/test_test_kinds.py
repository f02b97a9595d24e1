"""The unit/db/e2e kinds that tests/conftest.py gives every test, and the guard that keeps
`pytest -m unit` in-process: without these tests a wrong rule would silently send slow
tests into the inner loop, or fast ones out of it."""

from __future__ import annotations

import importlib
import types
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.conftest import TESTS_DIR, UnitTestLeftTheProcessError, in_process_only, kind_of_test

KINDS = ("unit", "db", "e2e")


def _item(path: Path, module: types.ModuleType | None = None, *fixtures: str) -> Any:
    marks = {"unit": pytest.mark.unit.mark}
    return types.SimpleNamespace(
        path=path,
        module=module,
        fixturenames=list(fixtures),
        name="test_x",
        originalname="test_x",
        nodeid=f"{path.name}::test_x",
        get_closest_marker=marks.get,
    )


def test_every_collected_test_has_exactly_one_kind(request: pytest.FixtureRequest) -> None:
    for item in request.session.items:
        assert [k for k in KINDS if item.get_closest_marker(k)] == [kind_of_test(item)]


def test_this_file_is_unit(request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("unit") is not None


def test_kinds_by_directory_module_and_fixture() -> None:
    plain = types.ModuleType("tests.fake_plain")
    serving = types.ModuleType("tests.fake_serving")
    serving.subprocess = importlib.import_module("subprocess")  # type: ignore[attr-defined]
    assert kind_of_test(_item(TESTS_DIR / "ops" / "test_x.py", plain)) == "e2e"
    assert kind_of_test(_item(TESTS_DIR / "api" / "test_x.py", serving)) == "e2e"
    assert kind_of_test(_item(TESTS_DIR / "api" / "test_x.py", plain, "db_url", "backend")) == "db"
    assert kind_of_test(_item(TESTS_DIR / "api" / "test_x.py", plain, "tmp_path")) == "unit"
    # The e2e rule wins over the db one.
    assert kind_of_test(_item(TESTS_DIR / "ops" / "test_x.py", plain, "backend")) == "e2e"
    assert kind_of_test(_item(TESTS_DIR / "metrics" / "test_recompute_workers.py", plain)) == "e2e"
    one_test = _item(TESTS_DIR / "metrics" / "test_recompute_db.py", plain, "backend")
    one_test.originalname = "test_sqlite_and_postgresql_give_identical_rows"
    assert kind_of_test(one_test) == "e2e"
    one_test.originalname = "test_other"
    assert kind_of_test(one_test) == "db"


@pytest.mark.parametrize(
    ("what", "reach_out"),
    [
        ("starts a subprocess", lambda: importlib.import_module("subprocess").run(["true"])),
        (
            "calls socket.connect",
            lambda: importlib.import_module("socket").create_connection(("127.0.0.1", 9)),
        ),
        ("calls socket.bind", lambda: importlib.import_module("socket").socket().bind(("", 0))),
        ("connects to PostgreSQL", lambda: psycopg.connect("host=127.0.0.1 user=postgres")),
    ],
)
def test_a_unit_test_cannot_leave_the_process(what: str, reach_out: Any) -> None:
    fake = _item(TESTS_DIR / "test_x.py")
    with in_process_only(fake) as refused, pytest.raises(UnitTestLeftTheProcessError, match=what):
        reach_out()
    assert refused == [what]
