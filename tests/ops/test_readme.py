"""The README's SQL examples run unchanged on SQLite and PostgreSQL; its commands exist."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import Engine, text

README = Path(__file__).resolve().parents[2] / "README.md"


def _section(title: str) -> str:
    body = README.read_text().split(f"\n## {title}\n", 1)[1]
    return body.split("\n## ", 1)[0]


def test_every_sql_example_runs_on_both_backends(engine: Engine) -> None:
    queries = re.findall(r"```sql\n(.*?)```", _section("SQL"), re.DOTALL)
    assert len(queries) >= 5
    with engine.connect() as conn:
        for q in queries:
            conn.execute(text(q.strip().rstrip(";"))).all()


def test_operations_commands_are_documented() -> None:
    commands = _section("Commands")
    for cmd in ("etl demo", "etl daemon", "etl run-job", "etl schedule", "etl status", "etl chart"):
        assert f"| `{cmd}" in commands, cmd
    quick = _section("Quick start")
    assert "pip install ." in quick and "etl demo" in quick
