"""structlog, configured once per entry point.

Readable lines on a terminal, JSON lines otherwise. A redaction processor runs last
before rendering, so no secret reaches a log line whatever a caller passes in.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_SECRET_KEYS = re.compile(r"(api_?key|secret|token|password|authorization|cookie)", re.IGNORECASE)
_SECRET_VALUES = re.compile(r"\b(sk|rk|pk)_(test|live)_[A-Za-z0-9]+|\betl_[A-Za-z0-9_\-]{20,}")
REDACTED = "[redacted]"


def redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return _SECRET_VALUES.sub(REDACTED, value)
    if isinstance(value, dict):
        return {k: _redact_item(k, v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_value(v) for v in value)
    if hasattr(value, "get_secret_value"):
        return REDACTED
    return value


def _redact_item(key: Any, value: Any) -> Any:
    if (
        isinstance(key, str)
        and _SECRET_KEYS.search(key)
        and value not in (None, "")
        and not isinstance(value, int | float | bool)
    ):
        return REDACTED
    return redact_value(value)


def redact_processor(
    _logger: Any, _name: str, event_dict: MutableMapping[str, Any]
) -> dict[str, Any]:
    return {k: _redact_item(k, v) for k, v in event_dict.items()}


def configure_logging(level: str = "info", fmt: str = "auto", stream: Any = None) -> None:
    stream = stream if stream is not None else sys.stderr
    if fmt == "auto":
        fmt = "console" if getattr(stream, "isatty", lambda: False)() else "json"
    renderer: Any
    if fmt == "console":
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    else:
        renderer = structlog.processors.JSONRenderer(sort_keys=False)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_processor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name) if name else structlog.get_logger()
