"""Shared fixtures: a real database per test, on SQLite and on PostgreSQL.

PostgreSQL runs at 127.0.0.1:5432 (user postgres, trust auth) on the development and CI
machines; `.ci/run` starts it when it is installed but stopped. Every test that takes
`db_url`/`engine` runs on both backends, in a database created for it and dropped after.
An unreachable server fails the PostgreSQL tests instead of skipping them, so that CI
can never pass without having run them. Set ETL_TEST_PG_URL to use another server.

It also gives every test one kind, `unit`, `db` or `e2e` (docs/development.md), from
where the test lives, what its module imports and which fixtures it takes, so that test
files need no marks; a `unit` test that opens a socket, a subprocess or a PostgreSQL
connection fails and says so, which keeps `pytest -m unit` fast as the tests change.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import types
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import psycopg
import pytest
import structlog
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from etl.db.engine import make_engine
from etl.db.schema import init_db

PG_ADMIN_URL = os.environ.get(
    "ETL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
_TEMPLATE = "etl_test_template"


def _pg_admin() -> Engine:
    return create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", pool_size=1)


def _pg_url(dbname: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + dbname


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A PostgreSQL database with the schema, cloned by each test (fast CREATE … TEMPLATE)."""
    admin = _pg_admin()
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:  # pragma: no cover - environment problem, made loud
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc}", pytrace=False)
    name = f"{_TEMPLATE}_{os.getpid()}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    eng = make_engine(_pg_url(name))
    init_db(eng)
    eng.dispose()
    yield name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    eng = make_engine(f"sqlite:///{path}")
    init_db(eng)
    eng.dispose()
    with sqlite3.connect(path) as raw:  # fold the WAL into the file before it is copied
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of a fresh, empty database on the backend of the test's parameter."""
    backend = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'etl.db'}"
        return
    name = f"etl_test_{uuid.uuid4().hex[:12]}"
    admin = _pg_admin()
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except SQLAlchemyError as exc:  # pragma: no cover
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc}", pytrace=False)
    try:
        yield _pg_url(name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@contextmanager
def fresh_db_url(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, name: str
) -> Iterator[str]:
    """A URL of a fresh database with the schema (a copy of the session's template),
    dropped afterwards on PostgreSQL; `name` tells two of one test apart on SQLite."""
    if backend == "sqlite":
        path = tmp_path / f"{name}.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    template = request.getfixturevalue("pg_template")
    db = f"etl_test_{uuid.uuid4().hex[:12]}"
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{db}" TEMPLATE "{template}"'))
    try:
        yield _pg_url(db)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def db_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A URL of a fresh database that already has the schema, on each backend."""
    with fresh_db_url(backend, tmp_path, request, "etl") as url:
        yield url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No ETL settings from the developer's environment leak into a test; cwd is empty."""
    for var in list(os.environ):
        if var.startswith(("ETL_", "STRIPE_")) or var == "DATABASE_URL":
            monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(autouse=True)
def _fresh_logging() -> Iterator[None]:
    """`main()` points structlog at the captured stderr of its test; do not leak that
    (a later test logging to the closed stream fails: `etl` CLI tests then /healthz)."""
    yield
    structlog.reset_defaults()


# ---- Test kinds -----------------------------------------------------------------------
# Exactly one per test; e2e wins over db, db over unit.

TESTS_DIR = Path(__file__).resolve().parent
# Directories whose tests run daemons, the demo, Chromium, or the sandbox with the SDK.
E2E_DIRS = frozenset({"ops", "integration"})
# A module holding one of these (by qualified name) starts processes or servers.
E2E_NAMES = frozenset(
    {
        "subprocess",
        "socket",
        "uvicorn",
        "etl.sandbox.server.app.SandboxServer",
        "etl.api.serve.ApiThread",
        "tests.sync.helpers.sandbox",
        "tests.ops.helpers.refusing_stripe",
    }
)
# Fixtures that put a test on both backends, PostgreSQL included.
DB_FIXTURES = frozenset({"backend", "empty_db_url", "pg_template"})
# Files (or one test of a file) whose kind the rules above cannot see, found by the unit
# guard below; keys are paths under tests/. The metrics recompute starts worker
# interpreters on a large enough SQLite database, which makes its tests subprocess tests.
KIND_OF_FILE = {
    # PostgreSQL through getfixturevalue("pg_template"), and the recompute's workers.
    "metrics/test_recompute_db.py::test_sqlite_and_postgresql_give_identical_rows": "e2e",
    "metrics/test_recompute_workers.py": "e2e",  # the recompute's worker processes
    "metrics/test_import_cli.py": "e2e",  # `etl import-invoices` then a recompute with workers
}
# `slow` tests (the demo end to end) get this limit instead of the ini's `timeout`.
SLOW_TIMEOUT_S = 600

_module_kinds: dict[str, bool] = {}


def _qualified_name(value: object) -> str | None:
    if isinstance(value, types.ModuleType):
        return value.__name__
    module, qualname = getattr(value, "__module__", None), getattr(value, "__qualname__", None)
    return f"{module}.{qualname}" if isinstance(module, str) and isinstance(qualname, str) else None


def _starts_processes(module: types.ModuleType) -> bool:
    if module.__name__ not in _module_kinds:
        names = {_qualified_name(v) for v in vars(module).values()}
        _module_kinds[module.__name__] = not E2E_NAMES.isdisjoint(names)
    return _module_kinds[module.__name__]


def kind_of_test(item: pytest.Item) -> str:
    """`e2e`, `db` or `unit`: the one kind of a collected test (the rules above)."""
    try:
        parts = Path(str(item.path)).resolve().relative_to(TESTS_DIR).parts
    except ValueError:
        parts = ()
    file = "/".join(parts)
    for key in (f"{file}::{getattr(item, 'originalname', item.name)}", file):
        if key in KIND_OF_FILE:
            return KIND_OF_FILE[key]
    module = getattr(item, "module", None)
    if (len(parts) > 1 and parts[0] in E2E_DIRS) or (
        isinstance(module, types.ModuleType) and _starts_processes(module)
    ):
        return "e2e"
    if not DB_FIXTURES.isdisjoint(getattr(item, "fixturenames", ())):
        return "db"
    return "unit"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    has_timeout = config.pluginmanager.hasplugin("timeout")
    for item in items:
        item.add_marker(kind_of_test(item))
        if (
            has_timeout
            and item.get_closest_marker("slow")
            and not item.get_closest_marker("timeout")
        ):
            item.add_marker(pytest.mark.timeout(SLOW_TIMEOUT_S))


class UnitTestLeftTheProcessError(RuntimeError):
    """A test marked `unit` reached for a socket, a subprocess or a database server."""


@contextmanager
def in_process_only(item: pytest.Item) -> Iterator[list[str]]:
    """While a `unit` test sets up and runs, refuse what would make it not one."""
    refused: list[str] = []
    if item.get_closest_marker("unit") is None:
        yield refused
        return

    def refuse(what: str) -> Callable[..., NoReturn]:
        def refusal(*_args: Any, **_kwargs: Any) -> NoReturn:
            refused.append(what)
            raise UnitTestLeftTheProcessError(
                f"{item.nodeid} is marked unit but {what}: make it in-process, or let "
                "tests/conftest.py mark it (E2E_DIRS, E2E_NAMES, DB_FIXTURES, KIND_OF_FILE)"
            )

        return refusal

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(subprocess.Popen, "__init__", refuse("starts a subprocess"))
        for method in ("connect", "connect_ex", "bind"):
            patch.setattr(socket.socket, method, refuse(f"calls socket.{method}"))
        # psycopg.connect is bound at import: SQLAlchemy calls it, so patch both names.
        patch.setattr(psycopg.Connection, "connect", classmethod(refuse("connects to PostgreSQL")))
        patch.setattr(psycopg, "connect", refuse("connects to PostgreSQL"))
        yield refused


def _fail_if_refused(item: pytest.Item, refused: list[str]) -> None:
    # The refusal may have been caught and swallowed by the code under test.
    if refused:
        pytest.fail(f"{item.nodeid} is marked unit but {refused[0]}", pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    with in_process_only(item) as refused:
        result = yield
    _fail_if_refused(item, refused)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    with in_process_only(item) as refused:
        result = yield
    _fail_if_refused(item, refused)
    return result
