"""The ledger's Celery task, as the relay publishes to it: ``ledger.append_batch`` on
the ``ledger`` queue, one batch of CloudEvents per task (services/ledger/tasks.py)."""

from __future__ import annotations

from typing import Any

from celery import Celery
from kombu.exceptions import EncodeError

from shared.outbox.relay import Publish, Unpublishable

LEDGER_QUEUE = "ledger"
APPEND_BATCH_TASK = "ledger.append_batch"


def publisher(celery_app: Celery) -> Publish:
    """What the relay calls: one ``ledger.append_batch`` task per batch of events."""

    def publish(events: list[dict[str, Any]]) -> None:
        try:
            celery_app.send_task(APPEND_BATCH_TASK, args=[events], queue=LEDGER_QUEUE)
        except EncodeError as exc:
            raise Unpublishable(str(exc)) from exc

    return publish
