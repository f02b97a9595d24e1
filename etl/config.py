"""The one settings class. Environment variables first, then an optional `.env` file.

Variable names are part of the interface contract (shared/spec/interface.md): they are
spelled out as aliases so that no prefix rule can rename them by accident.
"""

from __future__ import annotations

import re
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from etl.currency import iso_currency
from etl.errors import UsageError

DEFAULT_DATABASE_URL = "sqlite:///etl.db"
SUPPORTED_DIALECTS = ("sqlite", "postgresql")


class ConfigError(UsageError):
    """A setting is missing or malformed. The message names the setting."""

    def __init__(self, setting: str, problem: str) -> None:
        self.setting = setting
        self.problem = problem
        super().__init__(f"setting {setting}: {problem}")


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, name.lower())


def parse_database_url(raw: str) -> URL:
    """Validate a DATABASE_URL and pin the PostgreSQL driver to psycopg 3."""
    try:
        url = make_url(raw)
    except ArgumentError as exc:
        raise ValueError(
            "not a database URL (expected e.g. sqlite:///etl.db or "
            "postgresql+psycopg://user@host:5432/db)"
        ) from exc
    backend = url.get_backend_name()
    if backend not in SUPPORTED_DIALECTS:
        raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql")
    if backend == "sqlite" and (url.host or url.port):
        # sqlite://etl.db parses as host "etl.db" and no file: a slash is missing.
        raise ValueError(
            f"{raw!r} names no file (a slash is missing?): use sqlite:///etl.db for a "
            "path relative to the working directory, sqlite:////var/lib/etl/etl.db for "
            "an absolute one"
        )
    if backend == "postgresql":
        if url.get_driver_name() not in ("psycopg", "psycopg2"):
            raise ValueError("PostgreSQL URLs must use the psycopg driver (postgresql+psycopg://)")
        url = url.set(drivername="postgresql+psycopg")
        if not url.database:
            raise ValueError("PostgreSQL URL has no database name")
    return url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        case_sensitive=False,
    )

    database_url: str = Field(DEFAULT_DATABASE_URL, validation_alias=_env("DATABASE_URL"))
    stripe_api_key: SecretStr | None = Field(None, validation_alias=_env("STRIPE_API_KEY"))
    stripe_api_base: str | None = Field(None, validation_alias=_env("STRIPE_API_BASE"))
    stripe_rate_limit: float | None = Field(
        None,
        gt=0,
        validation_alias=_env("ETL_STRIPE_RATE_LIMIT"),
        description="requests per second; default 25 for test keys, 100 for live keys",
    )
    timezone: str = Field("UTC", validation_alias=_env("ETL_TIMEZONE"))
    reporting_currency: str = Field("usd", validation_alias=_env("ETL_REPORTING_CURRENCY"))
    include_tax: bool = Field(False, validation_alias=_env("ETL_INCLUDE_TAX"))
    past_due_grace_days: int = Field(0, ge=0, validation_alias=_env("ETL_PAST_DUE_GRACE_DAYS"))
    extra_id_metadata_key: str = Field(
        "extra_id", min_length=1, validation_alias=_env("ETL_EXTRA_ID_METADATA_KEY")
    )
    require_https: bool | None = Field(None, validation_alias=_env("ETL_REQUIRE_HTTPS"))
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", validation_alias=_env("ETL_LOG_LEVEL")
    )
    log_format: Literal["auto", "json", "console"] = Field(
        "auto", validation_alias=_env("ETL_LOG_FORMAT")
    )
    sync_cron: str = Field("0 * * * *", validation_alias=_env("ETL_SYNC_CRON"))
    reconcile_cron: str = Field("30 3 * * *", validation_alias=_env("ETL_RECONCILE_CRON"))
    prune_cron: str = Field("45 4 * * 0", validation_alias=_env("ETL_PRUNE_CRON"))
    # Operations (jobs/): how long superseded raw versions are kept, job-level retries,
    # how long a stopping daemon waits for a running job, and a test-only fast schedule.
    prune_keep_days: int = Field(30, ge=0, validation_alias=_env("ETL_PRUNE_KEEP_DAYS"))
    job_retries: int = Field(3, ge=0, le=20, validation_alias=_env("ETL_JOB_RETRIES"))
    job_retry_wait: float = Field(30.0, ge=0, validation_alias=_env("ETL_JOB_RETRY_WAIT"))
    shutdown_grace: float = Field(8.0, ge=0, validation_alias=_env("ETL_SHUTDOWN_GRACE"))
    # The nightly reconcile marks deleted the objects Stripe no longer lists; more than
    # this share of a table at once is far likelier a bad listing than a real purge.
    reconcile_max_delete_share: float = Field(
        0.5, ge=0, le=1, validation_alias=_env("ETL_RECONCILE_MAX_DELETE_SHARE")
    )
    schedule_seconds: float | None = Field(
        None, gt=0, validation_alias=_env("ETL_SCHEDULE_SECONDS")
    )

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _lower(cls, v: object) -> object:
        return v.lower() if isinstance(v, str) else v

    @field_validator("database_url")
    @classmethod
    def _check_url(cls, v: str) -> str:
        parse_database_url(v)
        return v

    @field_validator("stripe_api_base")
    @classmethod
    def _check_base(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        if not re.match(r"^https?://[^\s/]+", v):
            raise ValueError("must be an http(s) URL such as http://127.0.0.1:12111")
        return v.rstrip("/")

    @field_validator("timezone")
    @classmethod
    def _check_tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {v!r} (expected an IANA name like UTC)") from exc
        return v

    @field_validator("reporting_currency")
    @classmethod
    def _check_currency(cls, v: str) -> str:
        return iso_currency(v)

    @field_validator("stripe_api_key")
    @classmethod
    def _check_key(cls, v: SecretStr | None) -> SecretStr | None:
        if v is None or v.get_secret_value() == "":
            return None
        if not re.fullmatch(r"(sk|rk)_(test|live)_[A-Za-z0-9_]+", v.get_secret_value()):
            # Never echo the value: it is a secret even when malformed.
            raise ValueError("must be a Stripe secret (sk_…) or restricted (rk_…) key")
        return v

    @property
    def db_url(self) -> URL:
        return parse_database_url(self.database_url)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def is_live_key(self) -> bool:
        key = self.stripe_api_key
        return key is not None and "_live_" in key.get_secret_value()


_FIELD_TO_ENV = {
    name: str(field.validation_alias.choices[0])  # type: ignore[union-attr]
    for name, field in Settings.model_fields.items()
}


def env_name(field: str) -> str:
    """The environment variable users set for a settings field."""
    return _FIELD_TO_ENV.get(field, field.upper())


def load_settings(**overrides: object) -> Settings:
    """Build Settings, turning pydantic's error into one ConfigError naming the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = str(err["loc"][0]) if err["loc"] else "?"
        field = next((n for n, f in Settings.model_fields.items() if loc in (n, *_aliases(f))), loc)
        msg = err["msg"]
        msg = msg.removeprefix("Value error, ")
        raise ConfigError(env_name(field), msg) from None


def _aliases(field: object) -> tuple[str, ...]:
    alias = getattr(field, "validation_alias", None)
    if isinstance(alias, AliasChoices):
        return tuple(str(c) for c in alias.choices)
    return ()
