"""Webhooks out, delivering: claiming one message, one attempt at it and its record in
the log, disabling a subscription that fails, the sweep of due messages and the purge.
What each subscription is owed as entries are appended is written by the followers of the
log (services/ledger/webhooks/fanout.py).

The database is the truth about every delivery. A message row is written in the same
transaction as the follower's position that moves past the entries it tells of; Celery
only carries "try message X now". A broker that loses that, or a worker killed in the
middle of an attempt, costs a delay, never a message: the sweep hands a due message to
the broker again.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.ledger.models import Entry, Subscription, TreeHeadRow, WebhookAttempt, WebhookMessage
from services.ledger.signing import TreeHead
from services.ledger.webhooks import domain
from services.ledger.webhooks.domain import FAILED, PENDING, SUCCEEDED
from services.ledger.webhooks.settings import Settings
from services.ledger.webhooks.subscriptions import fail_pending, signing_secrets
from shared import outbound
from shared.db import Database
from shared.times import naive_utcnow, rfc3339_of_naive_utc
from shared.webhooks import signature_headers

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Send = Callable[..., outbound.Response]


@dataclass
class Delivery:
    """What one call of ``deliver`` did; ``notices`` are new messages to hand to the broker."""

    message_id: str
    outcome: str  # skipped, succeeded, retry, exhausted, gone, cancelled
    status: int | None = None
    next_attempt_at: datetime | None = None
    notices: list[str] = field(default_factory=list)


def _entries_body(session: Session, message: WebhookMessage) -> str:
    assert message.seqs is not None and message.tree_size is not None
    seqs = [int(s) for s in message.seqs.split(",")]
    rows = session.execute(
        sa.select(Entry.seq, Entry.area, Entry.org_unit, Entry.pseudonym, Entry.received_at,
                  Entry.leaf_hash, Entry.event, Entry.salt)
        .where(Entry.seq.in_(seqs)).order_by(Entry.seq)).all()
    head = session.get(TreeHeadRow, message.tree_size)
    if head is None or len(rows) != len(seqs):
        raise LookupError(f"message {message.id}: the ledger lacks its entries or tree head")
    sth = TreeHead(head.size, head.timestamp, head.root_hash, head.signature).as_json()
    entries = [{"seq": r.seq, "area": r.area, "org_unit": r.org_unit, "pseudonym": r.pseudonym,
                # exactly as in the leaf bytes, so that a receiver can hash the leaf
                "received_at": rfc3339_of_naive_utc(r.received_at),
                "leaf_hash": base64.b64encode(r.leaf_hash or b"").decode(),
                # with the salt, a receiver rebuilds the entry's line and hashes it to the
                # leaf; an entry erased before delivery goes with neither, and says so
                "salt": None if r.salt is None else r.salt.hex(),
                "event": None if r.event is None else json.loads(r.event),
                "erased": r.event is None} for r in rows]
    return domain.entries_event(message.id, message.subscription_id, entries, sth,
                                message.created_at)


def _cancel(message: WebhookMessage, why: str) -> str:
    message.status, message.next_attempt_at = FAILED, None
    message.locked_until, message.last_error = None, why
    return "cancelled"


def _claim(db: Database, message_id: str, now: datetime, lease: timedelta
           ) -> tuple[str, str, list[str], int] | str:
    """Take the message for one attempt: (url, body, secrets, step), or why not."""
    with db.writing() as session:
        claimed = session.execute(
            sa.update(WebhookMessage)
            .where(WebhookMessage.id == message_id, WebhookMessage.status == PENDING,
                   WebhookMessage.next_attempt_at <= now,
                   sa.or_(WebhookMessage.locked_until.is_(None),
                          WebhookMessage.locked_until < now))
            .values(locked_until=now + lease)
            .execution_options(synchronize_session=False))
        if not getattr(claimed, "rowcount", 0):
            return "skipped"  # done, not due, or another worker holds it
        message = session.get(WebhookMessage, message_id)
        assert message is not None
        sub = session.get(Subscription, message.subscription_id)
        if sub is None or not sub.enabled:
            return _cancel(message, "the subscription is disabled")
        if message.seqs is not None and sub.grant != domain.INSPECT:
            # Re-granted read since the message was queued: entries go to inspect only.
            return _cancel(message, "the subscription's grant no longer covers entries")
        if message.payload is None:
            message.payload = _entries_body(session, message)
        return sub.url, message.payload, signing_secrets(sub, now), message.schedule_step


def deliver(db: Database, settings: Settings, message_id: str, *, now: Clock = naive_utcnow,
            send: Send = outbound.post, rand: Callable[[], float] = random.random,
            wall: Callable[[], float] = time.time) -> Delivery:
    """One attempt at one message, if it is due and nobody else holds it.

    ``now`` is the clock of the schedule (tests inject one); ``wall`` gives the
    ``webhook-timestamp``, which receivers check against their own clocks. No
    transaction is open while the request is in flight.
    """
    started = now()
    claim = _claim(db, message_id, started, settings.lease)
    if isinstance(claim, str):
        return Delivery(message_id, claim)
    url, body, secrets_, step = claim
    headers = signature_headers(secrets_, message_id, int(wall()), body)
    status: int | None = None
    answer: dict[str, str] = {}
    response_text: str | None = None
    error: str | None = None
    clock = time.monotonic()
    try:
        response = send(url, body.encode(), headers, timeout=settings.timeout,
                        allowed=settings.allowed, max_body=domain.RESPONSE_BYTES)
        status, answer = response.status, response.headers
        response_text = response.body.decode("utf-8", "replace")
    except outbound.DeliveryError as exc:
        error = f"{exc.kind}: {exc}"
    except Exception as exc:  # a failure of ours must still be logged as an attempt
        log.exception("webhook %s: the attempt failed unexpectedly", message_id)
        error = f"error: {exc!r}"
    latency_ms = int((time.monotonic() - clock) * 1000)
    if status is not None and 300 <= status < 400:
        error = f"redirect to {answer.get('location', '?')} not followed"
    elif status is not None and not 200 <= status < 300:
        error = f"HTTP {status}"
    finished = now()
    verdict = domain.judge(status, answer, step, settings.schedule, settings.jitter, rand,
                           finished)
    return _record(db, message_id, url, started, finished, status, error, latency_ms,
                   response_text, verdict)


def _record(db: Database, message_id: str, url: str, started: datetime, finished: datetime,
            status: int | None, error: str | None, latency_ms: int,
            response_text: str | None, verdict: domain.Verdict) -> Delivery:
    """The attempt in the log, and where the message and its subscription stand now."""
    result = Delivery(message_id, verdict.outcome, status)
    with db.writing() as session:
        message = session.get(WebhookMessage, message_id)
        if message is None:
            return Delivery(message_id, "cancelled", status)  # deleted while in flight
        sub = session.get(Subscription, message.subscription_id)
        assert sub is not None
        next_at = None
        if verdict.outcome == "retry" and message.status == PENDING:
            assert verdict.delay is not None
            next_at = finished + timedelta(seconds=verdict.delay)
        session.add(WebhookAttempt(
            message_id=message_id, subscription_id=sub.id, attempted_at=started, url=url,
            status=status, outcome=SUCCEEDED if verdict.outcome == "succeeded" else FAILED,
            error=error, latency_ms=latency_ms, response=response_text,
            next_attempt_at=next_at))
        message.attempts += 1
        message.last_attempt_at, message.last_status, message.last_error = started, status, error
        message.locked_until = message.enqueued_at = None
        if verdict.outcome == "succeeded":
            message.status, message.next_attempt_at = SUCCEEDED, None
            sub.last_success_at = finished
        elif message.status != PENDING:
            pass  # disabled while in flight: it stays failed
        elif verdict.outcome == "retry":
            message.schedule_step += 1
            message.next_attempt_at = result.next_attempt_at = next_at
        else:
            message.status, message.next_attempt_at = FAILED, None
            if verdict.outcome == "gone":
                result.notices = _disable(session, sub, domain.GONE, finished, message)
            elif sub.enabled and (sub.last_success_at is None
                                  or sub.last_success_at < message.created_at):
                # Nothing got through since this message was made: the endpoint is down.
                result.notices = _disable(session, sub, domain.FAILING, finished, message)
    return result


def _disable(session: Session, sub: Subscription, reason: str, now: datetime,
             message: WebhookMessage) -> list[str]:
    """Stop sending to ``sub``, and tell the subscriptions that asked to hear of it."""
    if not sub.enabled:
        return []
    log.warning("webhook subscription %s disabled (%s) after message %s", sub.id, reason,
                message.id)
    sub.enabled, sub.disabled_reason, sub.disabled_at, sub.updated_at = False, reason, now, now
    session.flush()
    fail_pending(session, sub.id, "the subscription was disabled")
    watchers = session.execute(sa.select(Subscription.id, Subscription.event_types)
                               .where(Subscription.enabled, Subscription.id != sub.id)).all()
    about = {"id": sub.id, "description": sub.description, "disabled_at": rfc3339_of_naive_utc(now)}
    cause = {"message": message.id, "attempts": message.attempts, "status": message.last_status,
             "error": message.last_error}
    rows = []
    for watcher_id, types_text in watchers:
        if domain.wants_type(domain.split(types_text), domain.SUBSCRIPTION_DISABLED):
            row = domain.message_row(watcher_id, domain.SUBSCRIPTION_DISABLED, now)
            row["payload"] = domain.disabled_event(row["id"], about, reason, cause, now)
            rows.append(row)
    if rows:
        session.execute(sa.insert(WebhookMessage), rows)
    return [row["id"] for row in rows]


def due(db: Database, now: datetime, requeue_after: float, limit: int = 500) -> list[str]:
    """The sweep: messages due that nobody is working on and that the broker has not
    been handed lately (never, or ``requeue_after`` seconds ago). Marks them handed."""
    stale = now - timedelta(seconds=requeue_after)
    with db.reading() as session:
        ids = list(session.scalars(
            sa.select(WebhookMessage.id)
            # A literal, so that SQLite can use the partial index of pending messages.
            .where(sa.text("webhook_messages.status = 'pending'"),
                   WebhookMessage.next_attempt_at <= now,
                   sa.or_(WebhookMessage.enqueued_at.is_(None),
                          WebhookMessage.enqueued_at < stale),
                   sa.or_(WebhookMessage.locked_until.is_(None),
                          WebhookMessage.locked_until < now))
            .order_by(WebhookMessage.next_attempt_at).limit(limit)))
    if ids:
        with db.writing() as session:
            session.execute(sa.update(WebhookMessage).where(WebhookMessage.id.in_(ids))
                            .values(enqueued_at=now)
                            .execution_options(synchronize_session=False))
    return ids


def purge(db: Database, before: datetime, limit: int = 1000) -> int:
    """Forget finished messages made before ``before``, with their attempts; how many."""
    with db.reading() as session:
        ids = list(session.scalars(
            sa.select(WebhookMessage.id)
            .where(WebhookMessage.status.in_((SUCCEEDED, FAILED)),
                   WebhookMessage.created_at < before)
            .order_by(WebhookMessage.created_at).limit(limit)))
    if ids:
        with db.writing() as session:
            session.execute(sa.delete(WebhookAttempt).where(WebhookAttempt.message_id.in_(ids)))
            session.execute(sa.delete(WebhookMessage).where(
                WebhookMessage.id.in_(ids), WebhookMessage.status.in_((SUCCEEDED, FAILED))))
    return len(ids)
