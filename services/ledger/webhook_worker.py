"""Entry point for ``celery -A services.ledger.webhook_worker worker --queues
webhooks,settled``.

The same Celery app as the ledger worker's, plus two timers: the sweep hands due
webhook messages (retries, resends, any the broker lost) to the broker, and the
publisher releases each period's figures once it has ended, when that is scheduled.
Its threads also answer the relay's ``ledger.settled`` questions: a read, kept off the
ledger worker, which only appends.
"""

from __future__ import annotations

from typing import Any

from celery import Celery

_celery: Celery | None = None


def __getattr__(name: str) -> Any:
    global _celery
    if name != "celery":
        raise AttributeError(name)
    if _celery is None:
        from services.ledger.publisher import publisher
        from services.ledger.webhooks.tasks import sweeper
        from services.ledger.worker import build

        app, celery_app = build()
        celery_app.steps["worker"].add(sweeper(app))
        scheduled = publisher(app)
        if scheduled is not None:
            celery_app.steps["worker"].add(scheduled)
        _celery = celery_app
    return _celery
