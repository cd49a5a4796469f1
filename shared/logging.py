"""Structured logs: one JSON object a line (or readable console lines), stable event names.

The standard library's loggers (uvicorn, aiokafka) go through the same formatter, so every line
a service writes has the same shape.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from shared.settings import CommonSettings

# Loggers of libraries that put record contents into their DEBUG lines (SQLAlchemy keeps its
# own at WARNING unless echo is asked for, which the services never do).
PERSONAL_DATA_DRIVERS = ("aiosqlite", "aiokafka", "asyncpg")


def configure_logging(settings: CommonSettings, *, service: str) -> None:
    """Route structlog and stdlib logging to stdout in the configured format."""
    shared_processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if settings.log_format == "json"
        else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[*shared_processors, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared_processors,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # uvicorn's --no-access-log leaves the access logger without handlers: keep it that way.
    access = logging.getLogger("uvicorn.access")
    if access.handlers:
        access.handlers[:] = [handler]
    # httpx logs every request at INFO; the services' own request metrics say more, for less.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # At DEBUG these drivers write every SQL parameter and every Kafka record they send: authors'
    # names and heads' contacts. A service at DEBUG shows its own detail, never theirs.
    for name in PERSONAL_DATA_DRIVERS:
        logging.getLogger(name).setLevel(max(logging.INFO, root.level))
    structlog.contextvars.bind_contextvars(service=service)


def get_logger(name: str) -> Any:
    """A structlog logger; log an event name and fields: ``log.info("outbox.published", n=3)``."""
    return structlog.get_logger(name)
