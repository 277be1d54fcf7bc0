"""The ledger's one Celery task: append a batch of CloudEvents (then hand the webhook
messages it recorded to the broker)."""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from celery import Task, shared_task
from flask import current_app

from services.ledger import service
from services.ledger.webhooks import service as subscribers
from services.ledger.webhooks import tasks as webhook_tasks
from shared.db import current_db
from shared.outbox import APPEND_BATCH_TASK

log = logging.getLogger(__name__)

# Errors that mean "the database is away", not "this batch is bad": retry later.
TRANSIENT = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError)


@shared_task(name=APPEND_BATCH_TASK, bind=True, acks_late=True, max_retries=None)
def append_batch(self: Task, events: Any) -> dict[str, int]:
    """Append ``events`` (a list of CloudEvents) to the ledger in one transaction."""
    db = current_db()
    try:
        result = service.append_batch(db, events, current_app.extensions["signer"],
                                      subscribers.Settings.from_config(current_app.config))
    except TRANSIENT as exc:
        countdown = min(2 ** min(self.request.retries, 5), 30)
        log.warning("ledger append failed, retrying in %ss: %s", countdown, exc)
        raise self.retry(exc=exc, countdown=countdown) from exc
    except Exception as exc:
        # Not transient: keep the whole batch in `rejected` rather than lose it.
        log.exception("ledger append failed; the batch is kept as rejected")
        service.reject_batch(db, events, f"append failed: {exc!r}")
        return {"appended": 0, "duplicates": 0, "rejected": len(events or []), "size": -1}
    log.info("ledger appended batch %s", result.as_dict(),
             extra={"service": current_app.config["SERVICE_NAME"]})
    # After the commit: the subscribers' messages exist, so the broker may have them.
    webhook_tasks.enqueue(current_app.extensions["celery"], result.messages)
    return result.as_dict()
