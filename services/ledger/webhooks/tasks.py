"""Webhooks out on Celery: the ``webhooks.deliver`` task, handing messages to the broker,
and the sweep that the webhook worker runs every LADDER_WEBHOOK_SWEEP_INTERVAL seconds.

The task carries only a message id; everything else (whether it is due, the schedule,
the secrets) is read from the database when it runs. So a lost, repeated or late
task is harmless: the sweep hands a due message over again, and a message that is
not due, or already in another worker's hands, is skipped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from datetime import timedelta

from celery import Celery, bootsteps, shared_task
from flask import Flask, current_app

from services.ledger.webhooks import delivery
from services.ledger.webhooks.settings import Settings
from shared.celery_app import DELIVER_WEBHOOK_TASK, WEBHOOK_QUEUE, every
from shared.db import current_db
from shared.times import naive_utcnow

log = logging.getLogger(__name__)


@shared_task(name=DELIVER_WEBHOOK_TASK, acks_late=True, ignore_result=True)
def deliver(message_id: str) -> str:
    """One attempt at one webhook message, if it is due."""
    settings = Settings.from_config(current_app.config)
    result = delivery.deliver(current_db(), settings, message_id)
    if result.outcome != "skipped":
        log.info("webhook %s: %s (HTTP %s)%s", message_id, result.outcome, result.status,
                 f", next attempt at {result.next_attempt_at}Z" if result.next_attempt_at
                 else "")
    enqueue(current_app.extensions["celery"], result.notices)
    return result.outcome


def enqueue(celery_app: Celery, message_ids: Iterable[str]) -> int:
    """Hand messages to the broker after their rows have committed; the sweep covers a
    failure here, so it is logged and not raised."""
    sent = 0
    for message_id in message_ids:
        try:
            celery_app.send_task(DELIVER_WEBHOOK_TASK, args=[message_id], queue=WEBHOOK_QUEUE,
                                 ignore_result=True)
            sent += 1
        except Exception as exc:
            log.warning("could not hand webhook message %s to the broker; the sweep will: %s",
                        message_id, exc)
            break
    return sent


# Seconds between purges of the delivery log older than LADDER_WEBHOOK_RETENTION_DAYS.
PURGE_EVERY = 3600.0


def sweep(app: Flask) -> int:
    """Hand every due message that nobody holds to the broker; how many were handed."""
    with app.app_context():
        settings = Settings.from_config(app.config)
        ids = delivery.due(app.extensions["db"], naive_utcnow(), settings.requeue_after)
        return enqueue(app.extensions["celery"], ids)


def purge(app: Flask) -> int:
    """Forget finished messages older than the retention, a thousand at a time."""
    days = app.config["WEBHOOK_RETENTION_DAYS"]
    if days <= 0:
        return 0
    before = naive_utcnow() - timedelta(days=days)
    total = 0
    while (purged := delivery.purge(app.extensions["db"], before)) > 0:
        total += purged
    return total


def sweeper(app: Flask) -> type[bootsteps.StartStopStep]:
    """A worker bootstep that sweeps every LADDER_WEBHOOK_SWEEP_INTERVAL seconds, and
    purges the delivery log past its retention once an hour."""
    next_purge = 0.0

    def run() -> None:
        nonlocal next_purge
        try:
            handed = sweep(app)
        except Exception:
            log.exception("webhook sweep failed; trying again next time")
            return
        if handed:
            log.info("webhook sweep handed %d due message(s) to the broker", handed)
        if time.monotonic() >= next_purge:
            next_purge = time.monotonic() + PURGE_EVERY
            try:
                purged = purge(app)
            except Exception:
                log.exception("purging the webhook delivery log failed")
                return
            if purged:
                log.info("purged %d finished webhook message(s) past their retention", purged)

    interval = app.config["WEBHOOK_SWEEP_INTERVAL"]
    log.info("webhook sweep every %ss", interval)
    return every(interval, run)
