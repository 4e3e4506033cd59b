"""Structured logging: one JSON line per event (or readable console lines in dev).

gunicorn's own error and access lines go through the same formatter (``gunicorn_logconfig``),
so a production log stream holds nothing but JSON objects.

A redaction processor drops any value logged under a secret-looking key, so an accidental
``log.info("x", api_key=...)`` cannot leak a key into log storage.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Any, Literal

import structlog

from bridge.settings import Settings

LogFormat = Literal["json", "console", "plain"]
SECRET_WORDS = ("api_key", "apikey", "secret", "password", "authorization", "token")


def redact_secrets(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    for key in list(event):
        if any(word in key.lower() for word in SECRET_WORDS):
            event[key] = "[redacted]"
    return event


def gunicorn_access_fields(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    """Turn gunicorn's access line into fields: method, path, status, duration, size.

    The path is logged without its query string, which may carry what does not belong in logs.
    A stdlib record's arguments arrive as ``positional_args``; they are already in its message,
    so other records simply drop them.
    """
    args = event.pop("positional_args", None)
    record = event.get("_record")
    if getattr(record, "name", "") != "gunicorn.access" or not isinstance(args, Mapping):
        return event
    status = str(args.get("s", ""))
    size = str(args.get("B", ""))
    event.update(
        event="request",
        method=args.get("m"),
        path=args.get("U"),
        status=int(status) if status.isdigit() else status,
        duration_ms=round(int(args.get("D", 0)) / 1000, 1),
        bytes=int(size) if size.isdigit() else 0,
        remote_addr=args.get("h"),
    )
    return event


def plain_words(_logger: Any, _method: str, event: dict[str, Any]) -> str:
    """``warning: what happened (key=value, ...)``: for a person at a terminal, not for storage."""
    event.pop("timestamp", None)
    event.pop("logger", None)
    level = event.pop("level", "info")
    text = f"{level}: {event.pop('event', '')}"
    failure = event.pop("exception", None)
    if event:
        text += " (" + ", ".join(f"{key}={value}" for key, value in event.items()) + ")"
    return f"{text}\n{failure}" if failure else text


BASE_PROCESSORS: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]
# Records of the standard library's loggers (gunicorn, Celery, alembic...) on their way in.
FOREIGN_PROCESSORS: list[Any] = [*BASE_PROCESSORS, gunicorn_access_fields, redact_secrets]


def formatter(fmt: LogFormat = "json") -> logging.Formatter:
    """The one formatter every handler uses: JSON lines, coloured console lines or plain words."""
    renderer: Any
    if fmt == "console":
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    elif fmt == "plain":
        renderer = plain_words
    else:
        renderer = structlog.processors.JSONRenderer()
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=FOREIGN_PROCESSORS,
        pass_foreign_args=True,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )


def configure_logging(settings: Settings, fmt: LogFormat | None = None) -> None:
    """Route stdlib and structlog output through one formatter on stderr.

    ``fmt`` overrides the configured format: the ``bridge`` command uses ``plain`` when a person
    reads its standard error.
    """
    structlog.configure(
        processors=[
            *BASE_PROCESSORS,
            redact_secrets,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Not cached: tests (structlog.testing.capture_logs) re-configure processors at run time.
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(fmt or settings.log_format))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    # Python's warnings (Celery's warning about running as root, deprecations) as log lines too.
    logging.captureWarnings(True)
    for noisy in ("urllib3", "werkzeug", "amqp", "kombu"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def gunicorn_logconfig(fmt: str, level: str) -> dict[str, Any]:
    """gunicorn's ``logconfig_dict``: its error and access lines through the bridge's formatter.

    Access lines go to standard output and everything else to standard error, as gunicorn does by
    default, but every line in the same format as the application's own.
    """
    chosen: LogFormat = "console" if fmt == "console" else "json"

    def handler(stream: str) -> dict[str, Any]:
        return {"class": "logging.StreamHandler", "formatter": "bridge", "stream": stream}

    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"bridge": {"()": formatter, "fmt": chosen}},
        "handlers": {"access": handler("ext://sys.stdout"), "error": handler("ext://sys.stderr")},
        "root": {"level": level.upper(), "handlers": ["error"]},
        "loggers": {
            "gunicorn.error": {"level": level.upper(), "handlers": ["error"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["access"], "propagate": False},
        },
    }
