"""Entry point for ``celery -A services.ledger.worker worker``.

The Celery app is built on first access, not at import (PEP 562).
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.signals import worker_process_init
from flask import Flask

_celery: Celery | None = None


def build() -> tuple[Flask, Celery]:
    """The ledger's Flask app and its Celery app, for a worker process."""
    from services.ledger import create_app
    from shared import logs

    # JSON from the first line: Celery checks its privileges before it sets up logging.
    logs.configure()
    app = create_app()

    @worker_process_init.connect(weak=False)
    def _fresh_connections(**_: Any) -> None:
        # A forked child must not share the parent's database connections.
        app.extensions["db"].dispose()

    return app, app.extensions["celery"]


def __getattr__(name: str) -> Any:
    global _celery
    if name != "celery":
        raise AttributeError(name)
    if _celery is None:
        _, _celery = build()
    return _celery
