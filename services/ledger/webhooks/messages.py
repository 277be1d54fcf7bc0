"""Webhooks out, the message log: resend one message, recover the failed ones, and read
the messages of a subscription and every attempt at them."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.ledger.models import Subscription, WebhookAttempt, WebhookMessage
from services.ledger.webhooks import subscriptions
from services.ledger.webhooks.domain import FAILED, PENDING
from shared.db import Database
from shared.errors import Conflict, NotFound


def _enabled(session: Session, sub_id: str) -> Subscription:
    sub = subscriptions.get(session, sub_id)
    if not sub.enabled:
        raise Conflict(f"Subscription {sub_id} is disabled ({sub.disabled_reason}); enable it "
                       "first.")
    return sub


def resend(db: Database, sub_id: str, message_id: str, now: datetime) -> dict[str, Any]:
    """Deliver one message again, whatever became of it, with its schedule from the start."""
    with db.writing() as session:
        _enabled(session, sub_id)
        message = session.get(WebhookMessage, message_id)
        if message is None or message.subscription_id != sub_id:
            raise NotFound(f"No message {message_id} for subscription {sub_id}.")
        message.status, message.schedule_step = PENDING, 0
        message.next_attempt_at, message.enqueued_at = now, None
        session.flush()
        return _message_json(message)


def recover(db: Database, sub_id: str, since: datetime, until: datetime | None,
            now: datetime) -> int:
    """Deliver again every failed message made since ``since`` (and before ``until``)."""
    with db.writing() as session:
        _enabled(session, sub_id)
        stmt = (sa.update(WebhookMessage)
                .where(WebhookMessage.subscription_id == sub_id,
                       WebhookMessage.status == FAILED, WebhookMessage.created_at >= since))
        if until is not None:
            stmt = stmt.where(WebhookMessage.created_at < until)
        result = session.execute(
            stmt.values(status=PENDING, schedule_step=0, next_attempt_at=now, enqueued_at=None)
            .execution_options(synchronize_session=False))
        return int(getattr(result, "rowcount", 0) or 0)


def _message_json(m: WebhookMessage) -> dict[str, Any]:
    return {"id": m.id, "subscription_id": m.subscription_id, "event_type": m.event_type,
            "created_at": m.created_at, "status": m.status, "attempts": m.attempts,
            "next_attempt_at": m.next_attempt_at, "last_attempt_at": m.last_attempt_at,
            "last_status": m.last_status, "last_error": m.last_error,
            "first_seq": m.first_seq, "last_seq": m.last_seq, "tree_size": m.tree_size}


def _attempt_json(a: WebhookAttempt) -> dict[str, Any]:
    return {"id": a.id, "message_id": a.message_id, "attempted_at": a.attempted_at,
            "url": a.url, "status": a.status, "outcome": a.outcome, "error": a.error,
            "latency_ms": a.latency_ms, "response": a.response,
            "next_attempt_at": a.next_attempt_at}


def list_messages(db: Database, sub_id: str, status: str | None, after: str | None,
                  since: datetime | None, limit: int) -> list[dict[str, Any]]:
    """Oldest first, after the cursor ``after`` (a message id)."""
    with db.reading() as session:
        subscriptions.get(session, sub_id)
        stmt = sa.select(WebhookMessage).where(WebhookMessage.subscription_id == sub_id)
        if status:
            stmt = stmt.where(WebhookMessage.status == status)
        if after:
            stmt = stmt.where(WebhookMessage.id > after)
        if since:
            stmt = stmt.where(WebhookMessage.created_at >= since)
        return [_message_json(m) for m in
                session.scalars(stmt.order_by(WebhookMessage.id).limit(limit))]


def get_message(db: Database, sub_id: str, message_id: str) -> dict[str, Any]:
    """A message with its body (once built) and every attempt at it."""
    with db.reading() as session:
        message = session.get(WebhookMessage, message_id)
        if message is None or message.subscription_id != sub_id:
            raise NotFound(f"No message {message_id} for subscription {sub_id}.")
        attempts = session.scalars(sa.select(WebhookAttempt)
                                   .where(WebhookAttempt.message_id == message_id)
                                   .order_by(WebhookAttempt.id))
        return {**_message_json(message),
                "payload": json.loads(message.payload) if message.payload else None,
                "delivery_attempts": [_attempt_json(a) for a in attempts]}


def list_attempts(db: Database, sub_id: str, after: int, limit: int,
                  outcome: str | None = None) -> list[dict[str, Any]]:
    """The delivery log of a subscription, oldest first, after the cursor ``after``."""
    with db.reading() as session:
        subscriptions.get(session, sub_id)
        stmt = sa.select(WebhookAttempt).where(WebhookAttempt.subscription_id == sub_id,
                                               WebhookAttempt.id > after)
        if outcome:
            stmt = stmt.where(WebhookAttempt.outcome == outcome)
        return [_attempt_json(a) for a in
                session.scalars(stmt.order_by(WebhookAttempt.id).limit(limit))]
