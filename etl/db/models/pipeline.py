"""Bookkeeping of the pipeline itself: sync cursors and runs, locks, job runs, API keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Index,
    Integer,
    String,
)
from sqlmodel import SQLModel

from etl.db.models.columns import ID, TEXT, TS, column

# ---------------------------------------------------------------- pipeline bookkeeping


class SyncCursor(SQLModel, table=True):
    __tablename__ = "sync_cursors"
    __table_args__ = {"comment": "Where each resource's sync resumes."}
    resource: str = column("resource or slice name, e.g. invoices or events", ID, pk=True)
    cursor: str | None = column("last object id (or event id) written", ID, nullable=True)
    phase: str = column("full, done or incremental", String(16), default="full")
    state_json: str | None = column("extra resumable state as JSON", TEXT, nullable=True)
    sync_run_id: int | None = column("run that wrote it", Integer, nullable=True)
    updated_at: datetime = column("when it moved", TS)


class SyncRun(SQLModel, table=True):
    __tablename__ = "sync_runs"
    __table_args__ = {"comment": "One row per sync or backfill run."}
    id: int | None = column("run id", Integer, pk=True)
    kind: str = column("full, incremental or backfill", String(16))
    status: str = column("running, ok, failed or interrupted", String(16))
    started_at: datetime = column("start", TS)
    finished_at: datetime | None = column("end", TS, nullable=True)
    objects: int = column("objects written", Integer, default=0)
    requests: int = column("HTTP requests made", Integer, default=0)
    retries: int = column("retried requests", Integer, default=0)
    malformed: int = column("objects stored raw but not normalized", Integer, default=0)
    counts_json: str | None = column("objects per resource as JSON", TEXT, nullable=True)
    error: str | None = column("error message of a failed run", TEXT, nullable=True)


class Lock(SQLModel, table=True):
    __tablename__ = "locks"
    __table_args__ = {"comment": "Advisory locks that keep two syncs from running at once."}
    name: str = column("lock name", ID, pk=True)
    holder: str = column("host:pid of the holder", ID)
    acquired_at: datetime = column("when taken", TS)
    heartbeat_at: datetime = column("last sign of life of the holder", TS)


class JobRun(SQLModel, table=True):
    __tablename__ = "job_runs"
    __table_args__ = (
        Index("ix_job_runs_job_started", "job", "started_at"),
        {"comment": "Every run of a scheduled or manual job."},
    )
    id: int | None = column("run id", Integer, pk=True)
    job: str = column("sync, recompute, reconcile, prune, …", String(32))
    trigger: str = column("daemon, cron, cli or api", String(16), default="cli")
    status: str = column("running, ok, failed or skipped (another sync held the lock)", String(16))
    started_at: datetime = column("start", TS)
    finished_at: datetime | None = column("end", TS, nullable=True)
    counts_json: str | None = column("what the job did, as JSON", TEXT, nullable=True)
    error: str | None = column("error message", TEXT, nullable=True)


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"
    __table_args__ = {"comment": "HTTP API keys; only a hash is stored."}
    id: str = column("public key id, e.g. key_3f9a…", String(32), pk=True)
    name: str | None = column("label", TEXT, nullable=True)
    key_hash: str = column("SHA-256 of the key", String(64), unique=True)
    prefix: str = column("first characters of the key, to recognise it", String(16))
    created_at: datetime = column("creation time", TS)
    last_used_at: datetime | None = column("last successful use", TS, nullable=True)
    revoked_at: datetime | None = column("revocation time", TS, nullable=True)
