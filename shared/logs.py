"""JSON logs to stdout for every process, and the request id they carry.

Each line is one JSON object: ``time``, ``level``, ``logger``, ``message``, the
``process`` (its Procfile name) and whatever context is set: ``request_id`` while
an HTTP request is handled, ``request_ids`` while the ledger worker appends a
batch, plus any ``extra`` the call passes. gunicorn takes the same configuration
(``shared/gunicorn_config.py``), Celery through ``setup_logging``, and the
``ladder`` command calls :func:`configure`.

A request id comes from the caller's ``X-Request-ID`` when it is a plain
identifier (hex digits and dashes, 16 to 64 of them: a UUID, or a proxy's
``$request_id``), and is generated otherwise. Anything else is refused because
the id travels into the ledger with the events the request caused (the
``requestid`` CloudEvent attribute), and the ledger keeps no free text.
"""

from __future__ import annotations

import logging
import logging.config
import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = re.compile(r"[0-9A-Fa-f-]{16,64}")

_context: ContextVar[dict[str, Any] | None] = ContextVar("ladder_log_context", default=None)


def request_id_from(header: str | None) -> str:
    """The caller's request id if it is a plain identifier, else a new one."""
    if header and _REQUEST_ID.fullmatch(header):
        return header
    return str(uuid.uuid4())


def current_request_id() -> str | None:
    value = (_context.get() or {}).get("request_id")
    return value if isinstance(value, str) else None


def bind(**fields: Any) -> Any:
    """Add fields to every log line of this context; returns a token for :func:`unbind`."""
    return _context.set({**(_context.get() or {}), **fields})


def unbind(token: Any) -> None:
    try:
        _context.reset(token)
    except ValueError:  # bound in another context (a streamed response's last chunk)
        _context.set({})


@contextmanager
def context(**fields: Any) -> Iterator[None]:
    """Fields added to every log line written inside the block."""
    token = bind(**fields)
    try:
        yield
    finally:
        unbind(token)


class ContextFilter(logging.Filter):
    """Copies the context fields and the process name onto each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in (_context.get() or {}).items():
            if not hasattr(record, key):
                setattr(record, key, value)
        if not hasattr(record, "process_name"):
            record.process_name = os.environ.get("LADDER_PROCESS", "ladder")
        return True


def dict_config(level: str | None = None) -> dict[str, Any]:
    """The ``logging.config.dictConfig`` of every Ladder process."""
    level = (level or os.environ.get("LADDER_LOG_LEVEL") or "INFO").upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": ContextFilter}},
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(levelname)s %(name)s %(process_name)s %(message)s",
                "timestamp": "time",
                "rename_fields": {"levelname": "level", "name": "logger",
                                  "process_name": "process"},
            },
        },
        "handlers": {
            "stdout": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout",
                       "formatter": "json", "filters": ["context"]},
        },
        "root": {"level": level, "handlers": ["stdout"]},
        "loggers": {
            # The app logs each request itself, with its request id (shared/app.py).
            "gunicorn.access": {"handlers": [], "propagate": False},
            "gunicorn.error": {"level": level, "handlers": ["stdout"], "propagate": False},
            "alembic": {"level": "WARNING"},
        },
    }


def configure(level: str | None = None) -> None:
    logging.config.dictConfig(dict_config(level))
    logging.captureWarnings(True)
