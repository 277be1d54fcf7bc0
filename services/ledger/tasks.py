"""The ledger's Celery tasks: append a batch of CloudEvents, and tell the relay which
events it has settled. What follows from an entry (the measures, webhook messages) is
the followers' (services/ledger/followers.py).

These two are how the relay reaches the ledger (shared/outbox/ledger.py); it never
opens the ledger's database."""

from __future__ import annotations

import logging
import time
from typing import Any

import sqlalchemy as sa
from celery import Task, shared_task
from flask import current_app

from services.ledger import service
from shared import logs, metrics
from shared.db import current_db
from shared.outbox import APPEND_BATCH_TASK, SETTLED_TASK, request_ids

log = logging.getLogger(__name__)

# Errors that mean "the database is away", not "this batch is bad": retry later.
TRANSIENT = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError)
# The longest wait between two tries of a batch. docs/reliability.md keeps the
# broker's visibility timeout above it, so a waiting batch is not handed out twice.
RETRY_BACKOFF_MAX = 30


# A batch that fails goes back to the broker and is tried again, without end: the
# database is away, or even keeping an event as rejected failed, and an accepted
# event is never dropped. Celery waits 1, 2, 4 ... up to RETRY_BACKOFF_MAX seconds
# between tries, each wait drawn at random below that (full jitter), so that the
# workers of a crowd of failed batches do not all come back at once.
@shared_task(name=APPEND_BATCH_TASK, bind=True, acks_late=True,
             autoretry_for=(Exception,), max_retries=None, retry_backoff=True,
             retry_backoff_max=RETRY_BACKOFF_MAX, retry_jitter=True)
def append_batch(self: Task, events: Any) -> dict[str, int]:
    """Append ``events`` (a list of CloudEvents) to the ledger in one transaction."""
    batch = events if isinstance(events, list) else [events]
    # The requests that caused these events: on every log line written for this batch.
    with logs.context(request_ids=request_ids(batch)):
        return _append(self, events, len(batch))


def _append(task: Task, events: Any, size: int) -> dict[str, int]:
    db = current_db()
    name = current_app.config["SERVICE_NAME"]
    started = time.perf_counter()
    try:
        result = service.append_in_parts(db, events, current_app.extensions["signer"],
                                         TRANSIENT)
    except TRANSIENT as exc:
        log.warning("ledger append failed (try %d); Celery retries the batch: %s",
                    task.request.retries + 1, exc)
        raise
    except Exception:
        log.exception("ledger append and keeping rejected events both failed (try %d); "
                      "Celery retries the batch", task.request.retries + 1)
        raise
    metrics.record_batch(name, size, time.perf_counter() - started, result.appended,
                         result.duplicates, result.rejected)
    log.info("ledger appended a batch: %d new, %d duplicates, %d rejected; size %d",
             result.appended, result.duplicates, result.rejected, result.size,
             extra=result.as_dict())
    return result.as_dict()


@shared_task(name=SETTLED_TASK, ignore_result=False)
def settled(keys: Any) -> list[list[str]]:
    """The relay's question: which of these (source, id) pairs the ledger has settled,
    appended or kept in ``rejected``. The webhook worker answers it: it is a read."""
    pairs = [(source, event_id) for source, event_id in keys]
    return [list(key) for key in sorted(service.held(current_db(), pairs))]
