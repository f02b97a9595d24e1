"""`etl api-key create|list|revoke`: the key is printed once, listed by prefix, revoked by id."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from etl.api.keys import API_KEYS, hash_key
from etl.cli import main
from etl.db.engine import make_engine


def test_api_key_commands(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{clean_env / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("ETL_LOG_FORMAT", "json")
    assert main(["api-key", "list"]) == 1  # no schema yet: a clear error, not a trace
    assert "init-db" in capsys.readouterr().err
    assert main(["init-db"]) == 0
    capsys.readouterr()
    assert main(["api-key", "create", "--name", "grafana"]) == 0
    out = capsys.readouterr()
    key = out.out.strip()
    assert key.startswith("etl_live_") and "cannot be shown again" in out.err
    engine = make_engine(url)
    with engine.connect() as conn:
        row = conn.execute(select(API_KEYS)).one()
    engine.dispose()
    assert row.key_hash == hash_key(key) and row.name == "grafana"

    assert main(["api-key", "list"]) == 0
    listing = capsys.readouterr().out
    assert row.id in listing and "grafana" in listing and "active" in listing
    assert key not in listing and row.prefix in listing

    assert main(["api-key", "revoke", row.id]) == 0
    capsys.readouterr()
    assert main(["api-key", "list"]) == 0
    assert "revoked" in capsys.readouterr().out
    assert main(["api-key", "revoke", "key_unknown"]) == 2
    assert "no API key" in capsys.readouterr().err
