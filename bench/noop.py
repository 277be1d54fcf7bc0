"""The baseline of row b: one Celery task per event, doing nothing but count itself.

Entry point for ``celery -A bench.noop worker``; the app is built on first access.
"""

from __future__ import annotations

import os
from typing import Any

import redis
from celery import Celery

_celery: Celery | None = None
_counter: redis.Redis | None = None


def _noop(event: dict[str, Any]) -> None:
    """Count the event in Redis; nothing else."""
    _count()


def _count() -> None:
    global _counter
    if _counter is None:
        _counter = redis.Redis.from_url(os.environ["REDIS_URL"])
    _counter.incr("bench:noop")


def __getattr__(name: str) -> Any:
    global _celery
    if name != "celery":
        raise AttributeError(name)
    if _celery is None:
        from shared.celery_app import celery_config
        from shared.config import load

        _celery = Celery("bench-noop")
        _celery.config_from_object({**celery_config(load("ledger")), "task_routes": {},
                                    "task_default_queue": "noop"})
        _celery.task(name="bench.noop")(_noop)
    return _celery
