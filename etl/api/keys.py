"""API keys: created once and shown once; only a SHA-256 hash, a prefix and an id are stored.

A key looks like `etl_live_<43 url-safe characters>` (256 random bits). The `etl_`
prefix lets the log redactor (etl.logs) recognise a key wherever it appears.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select, update

from etl.clock import utcnow
from etl.db import tables

API_KEYS = tables.api_keys
KEY_PREFIX = "etl_live_"
PREFIX_CHARS = 13  # "etl_live_" and four random characters: enough to recognise a key


@dataclass(frozen=True)
class KeyInfo:
    id: str
    name: str | None
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_key(conn: Connection, name: str | None = None) -> tuple[KeyInfo, str]:
    """Store a new key's hash; returns its record and the key itself (never stored)."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    info = KeyInfo(
        id="key_" + secrets.token_hex(8),
        name=name,
        prefix=key[:PREFIX_CHARS],
        created_at=utcnow(),
        last_used_at=None,
        revoked_at=None,
    )
    conn.execute(
        API_KEYS.insert().values(
            id=info.id,
            name=name,
            key_hash=hash_key(key),
            prefix=info.prefix,
            created_at=info.created_at,
        )
    )
    return info, key


def _info(row: object) -> KeyInfo:
    return KeyInfo(
        id=row.id,  # type: ignore[attr-defined]
        name=row.name,  # type: ignore[attr-defined]
        prefix=row.prefix,  # type: ignore[attr-defined]
        created_at=row.created_at,  # type: ignore[attr-defined]
        last_used_at=row.last_used_at,  # type: ignore[attr-defined]
        revoked_at=row.revoked_at,  # type: ignore[attr-defined]
    )


def list_keys(conn: Connection) -> list[KeyInfo]:
    rows = conn.execute(select(API_KEYS).order_by(API_KEYS.c.created_at, API_KEYS.c.id))
    return [_info(r) for r in rows]


def revoke_key(conn: Connection, key_id: str) -> KeyInfo | None:
    """Revoke a key by id; returns it (already revoked ones unchanged), None if unknown."""
    row = conn.execute(select(API_KEYS).where(API_KEYS.c.id == key_id)).first()
    if row is None:
        return None
    if row.revoked_at is None:
        conn.execute(update(API_KEYS).where(API_KEYS.c.id == key_id).values(revoked_at=utcnow()))
        row = conn.execute(select(API_KEYS).where(API_KEYS.c.id == key_id)).one()
    return _info(row)


def active_key_hashes(conn: Connection) -> dict[str, str]:
    """hash -> key id of every key not revoked (the set the server authenticates against)."""
    rows = conn.execute(
        select(API_KEYS.c.key_hash, API_KEYS.c.id).where(API_KEYS.c.revoked_at.is_(None))
    )
    return dict(rows.all())


def touch_keys(conn: Connection, used: dict[str, datetime]) -> None:
    for key_id, at in used.items():
        conn.execute(update(API_KEYS).where(API_KEYS.c.id == key_id).values(last_used_at=at))
