"""Authentication: the three header styles of the interface spec, against hashed keys.

Keys are looked up in an in-memory snapshot of the active hashes, refreshed at most
every `ttl` seconds (and at once after an in-process create or revoke), so a request
costs one SHA-256 and a few constant-time comparisons, not a database round trip. A
key revoked by another process (`etl api-key revoke`) stops working within `ttl`.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import threading
import time
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from etl.api.errors import ApiError
from etl.api.keys import active_key_hashes, hash_key, touch_keys
from etl.clock import utcnow
from etl.db.engine import read_connection
from etl.logs import get_logger

log = get_logger("etl.api.auth")

_TOKEN = re.compile(r'^Token\s+token="?([^"\s]+)"?\s*$', re.IGNORECASE)
_BEARER = re.compile(r"^Bearer\s+(\S+)\s*$", re.IGNORECASE)
_BASIC = re.compile(r"^Basic\s+(\S+)\s*$", re.IGNORECASE)
TOUCH_EVERY_S = 60.0
WWW_AUTHENTICATE = {"WWW-Authenticate": 'Basic realm="etl", Bearer, Token'}


def key_from_header(value: str | None) -> str | None:
    """The key an Authorization header carries, or None when it carries none we accept.

    `Token token="KEY"`, `Bearer KEY`, or Basic with KEY as user name and an empty
    password (what `curl -u KEY:` sends).
    """
    if not value:
        return None
    value = value.strip()
    for pattern in (_TOKEN, _BEARER):
        m = pattern.match(value)
        if m:
            return m.group(1)
    m = _BASIC.match(value)
    if m:
        try:
            decoded = base64.b64decode(m.group(1), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, sep, password = decoded.partition(":")
        if sep and not password and user:
            return user
    return None


class KeyStore:
    def __init__(self, engine: Engine, ttl: float = 2.0) -> None:
        self.engine = engine
        self.ttl = ttl
        self._hashes: dict[str, str] = {}
        self._loaded_at: float | None = None
        self._refreshing = False
        self._lock = threading.Lock()
        self._used: dict[str, datetime] = {}
        self._flushed_at: dict[str, float] = {}

    def invalidate(self) -> None:
        self._loaded_at = None

    def refresh(self) -> None:
        with read_connection(self.engine) as conn:
            hashes = active_key_hashes(conn)
        self._hashes = hashes
        self._loaded_at = time.monotonic()
        self._flush_touches()

    def _flush_touches(self) -> None:
        with self._lock:
            used, self._used = self._used, {}
        if not used:
            return
        try:
            with self.engine.begin() as conn:
                touch_keys(conn, used)
        except SQLAlchemyError as exc:  # last_used_at is informative; never fail a request for it
            log.warning("api.key_touch_failed", error=type(exc).__name__)

    async def _ensure_fresh(self) -> None:
        loaded = self._loaded_at
        if loaded is not None and time.monotonic() - loaded < self.ttl:
            return
        if self._refreshing and loaded is not None:
            return  # another request is refreshing; the previous snapshot is good enough
        self._refreshing = True
        try:
            await run_in_threadpool(self.refresh)
        finally:
            self._refreshing = False

    def lookup(self, key: str) -> str | None:
        """The id of the active key, comparing against every stored hash in constant time."""
        found = None
        presented = hash_key(key)
        for stored, key_id in self._hashes.items():
            if hmac.compare_digest(presented, stored):
                found = key_id
        return found

    async def authenticate_header(self, authorization: str | None) -> str:
        """The id of the key the Authorization header carries, or ApiError(401)."""
        key = key_from_header(authorization)
        if key is None:
            raise ApiError(
                401,
                "No valid API key provided. Use 'Authorization: Token token=\"KEY\"', "
                "'Authorization: Bearer KEY' or HTTP Basic with the key as user name.",
                headers=WWW_AUTHENTICATE,
            )
        await self._ensure_fresh()
        key_id = self.lookup(key)
        if key_id is None:
            raise ApiError(401, "Invalid API Key provided.", headers=WWW_AUTHENTICATE)
        now = time.monotonic()
        if now - self._flushed_at.get(key_id, -TOUCH_EVERY_S) >= TOUCH_EVERY_S:
            self._flushed_at[key_id] = now
            with self._lock:
                self._used[key_id] = utcnow()
            self._loaded_at = None  # the next request refreshes and records the use
        return key_id


__all__ = ["KeyStore", "key_from_header"]
