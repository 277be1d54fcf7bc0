"""Webhooks out, the use cases: subscriptions, delivering one message, the sweep, resend
and recover, the delivery log. What each subscription is owed as entries are appended is
written by the followers of the log (services/ledger/webhooks/fanout.py).

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.ledger.disclosure import Control
from services.ledger.models import (
    AlertState,
    Entry,
    FollowerPosition,
    Subscription,
    SubscriptionAlert,
    TreeHeadRow,
    WebhookAttempt,
    WebhookMessage,
)
from services.ledger.projection import ALL_UNITS
from services.ledger.signing import TreeHead
from services.ledger.webhooks import domain
from services.ledger.webhooks.domain import FAILED, PENDING, SUCCEEDED
from shared import outbound
from shared.auth import purpose_problem
from shared.db import Database
from shared.errors import Conflict, Invalid, NotFound
from shared.times import naive_utcnow, rfc3339_of_naive_utc
from shared.webhooks import new_secret, signature_headers

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Send = Callable[..., outbound.Response]


@dataclass(frozen=True)
class Settings:
    """The LADDER_WEBHOOK_* settings, as shared.config reads them."""

    schedule: tuple[float, ...]
    jitter: float
    timeout: float
    allowed: tuple[outbound.Network, ...]
    secret_overlap: float
    max_entries: int
    requeue_after: float
    retention_days: float
    # Alerts watch the figures a reader below admin sees, never the exact ones.
    disclosure: Control

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        return cls(schedule=tuple(config["WEBHOOK_SCHEDULE"]), jitter=config["WEBHOOK_JITTER"],
                   timeout=config["WEBHOOK_TIMEOUT"],
                   allowed=tuple(config["WEBHOOK_ALLOWED_NETWORKS"]),
                   secret_overlap=config["WEBHOOK_SECRET_OVERLAP"],
                   max_entries=config["WEBHOOK_MAX_ENTRIES"],
                   requeue_after=config["WEBHOOK_REQUEUE_AFTER"],
                   retention_days=config["WEBHOOK_RETENTION_DAYS"],
                   disclosure=Control.from_config(config))

    @classmethod
    def defaults(cls) -> Settings:
        from shared.config import DEV_SECRETS, disclosure_settings, webhook_settings

        return cls.from_config({**webhook_settings({}), **disclosure_settings({}),
                                "DISCLOSURE_KEY": DEV_SECRETS["LADDER_DISCLOSURE_KEY"]})

    @property
    def lease(self) -> timedelta:
        """How long an attempt holds its message: past it, a killed worker's claim is void."""
        return timedelta(seconds=2 * self.timeout + 1)


# -- subscriptions --------------------------------------------------------------------------


def _check_url(url: str, settings: Settings, resolve: outbound.Resolve) -> None:
    """422 naming the field: not http(s), not a URL, or (with the reason) not public."""
    try:
        outbound.check_destination(url, settings.allowed, resolve)
    except outbound.AddressRefused as exc:
        raise Invalid(f"The URL is refused: {exc}.", {"json": {"url": [str(exc)]}}) from exc
    except (outbound.UrlInvalid, outbound.Unresolvable) as exc:
        raise Invalid(f"The URL is refused: {exc}", {"json": {"url": [str(exc)]}}) from exc


def _check_grant(grant: str, purpose: str | None) -> None:
    """422 naming ``purpose``: an inspect grant states one, as an inspect token does."""
    why = purpose_problem(purpose, grant == domain.INSPECT)
    if why:
        raise Invalid(f"Some fields are invalid: purpose. {why}", {"json": {"purpose": [why]}})


def alert_json(alert: SubscriptionAlert) -> dict[str, Any]:
    return {"id": alert.id, "area": alert.area,
            "org_unit": None if alert.org_unit == ALL_UNITS else alert.org_unit,
            "measure": alert.measure, "period": alert.period, "operator": alert.operator,
            "threshold": alert.threshold}


def _alert_key(spec: Mapping[str, Any]) -> tuple[Any, ...]:
    return (spec["area"], spec.get("org_unit") or ALL_UNITS, spec["measure"],
            spec.get("period", "quarter"), spec["operator"], float(spec["threshold"]))


def _subscription_json(session: Session, sub: Subscription) -> dict[str, Any]:
    alerts = session.scalars(sa.select(SubscriptionAlert)
                             .where(SubscriptionAlert.subscription_id == sub.id)
                             .order_by(SubscriptionAlert.id))
    return {"id": sub.id, "url": sub.url, "description": sub.description,
            "event_types": sorted(domain.split(sub.event_types)),
            "areas": sorted(domain.split(sub.areas)), "grant": sub.grant,
            "purpose": sub.purpose, "enabled": sub.enabled,
            "disabled_reason": sub.disabled_reason, "disabled_at": sub.disabled_at,
            "previous_secret_expires_at": sub.previous_secret_expires_at,
            "created_at": sub.created_at, "updated_at": sub.updated_at,
            "last_success_at": sub.last_success_at,
            "alerts": [alert_json(a) for a in alerts]}


def _hold_followers(session: Session) -> None:
    """Wait for the followers of the log, and keep them waiting until this commits.

    The followers write messages and alert states that refer to subscriptions and
    alerts; deleting one of those under a running follower would break its transaction
    (on PostgreSQL; SQLite has one writer anyway). Each follower's position row is its
    lock.
    """
    session.execute(sa.select(FollowerPosition.name).order_by(FollowerPosition.name)
                    .with_for_update())


def _set_alerts(session: Session, sub_id: str, specs: list[dict[str, Any]],
                now: datetime) -> None:
    """Make the subscription's alerts these: unchanged ones keep their state."""
    current = {_alert_key(alert_json(a)): a for a in session.scalars(
        sa.select(SubscriptionAlert).where(SubscriptionAlert.subscription_id == sub_id))}
    wanted = {_alert_key(spec) for spec in specs}
    gone = [a.id for key, a in current.items() if key not in wanted]
    if gone:
        _hold_followers(session)
        session.execute(sa.delete(AlertState).where(AlertState.alert_id.in_(gone)))
        session.execute(sa.delete(SubscriptionAlert).where(SubscriptionAlert.id.in_(gone)))
    for key in sorted(wanted - current.keys(), key=repr):
        area, org_unit, measure, period, operator, threshold = key
        session.add(SubscriptionAlert(subscription_id=sub_id, area=area, org_unit=org_unit,
                                      measure=measure, period=period, operator=operator,
                                      threshold=threshold, created_at=now))


def create_subscription(db: Database, settings: Settings, spec: dict[str, Any], now: datetime,
                        resolve: outbound.Resolve = outbound.system_resolve
                        ) -> dict[str, Any]:
    """A new subscription; the answer carries its secret, the only time it is shown."""
    grant, purpose = spec.get("grant", domain.READ), spec.get("purpose")
    _check_grant(grant, purpose)
    _check_url(spec["url"], settings, resolve)
    secret = new_secret()
    sub = Subscription(id=domain.new_subscription_id(), url=spec["url"],
                       description=spec.get("description", ""),
                       event_types=" ".join(sorted(set(spec.get("event_types", [])))),
                       areas=" ".join(sorted(set(spec.get("areas", [])))),
                       grant=grant, purpose=purpose,
                       enabled=spec.get("enabled", True), secret=secret, created_at=now,
                       updated_at=now)
    if not sub.enabled:
        sub.disabled_reason, sub.disabled_at = domain.MANUAL, now
    with db.writing() as session:
        session.add(sub)
        session.flush()
        _set_alerts(session, sub.id, spec.get("alerts", []), now)
        session.flush()
        return {**_subscription_json(session, sub), "secret": secret}


def _get(session: Session, sub_id: str) -> Subscription:
    sub = session.get(Subscription, sub_id)
    if sub is None:
        raise NotFound(f"No subscription {sub_id}.")
    return sub


def get_subscription(db: Database, sub_id: str) -> dict[str, Any]:
    with db.reading() as session:
        return _subscription_json(session, _get(session, sub_id))


def list_subscriptions(db: Database) -> list[dict[str, Any]]:
    with db.reading() as session:
        subs = session.scalars(sa.select(Subscription).order_by(Subscription.created_at,
                                                                Subscription.id))
        return [_subscription_json(session, sub) for sub in subs]


def _fail_pending(session: Session, sub_id: str, reason: str) -> None:
    session.execute(
        sa.update(WebhookMessage)
        .where(WebhookMessage.subscription_id == sub_id, WebhookMessage.status == PENDING)
        .values(status=FAILED, next_attempt_at=None, last_error=reason)
        .execution_options(synchronize_session=False))


def update_subscription(db: Database, settings: Settings, sub_id: str,
                        changes: dict[str, Any], now: datetime,
                        resolve: outbound.Resolve = outbound.system_resolve
                        ) -> dict[str, Any]:
    """Change any of url, description, filters, grant and purpose, alerts; enable or
    disable.

    Enabling checks the URL again: its host may resolve elsewhere by now. Disabling
    fails what is pending; ``recover`` sends it again once the subscription is enabled.
    A grant of inspect needs a purpose, given now or stated before.
    """
    with db.writing() as session:
        sub = _get(session, sub_id)
        grant, purpose = changes.get("grant", sub.grant), changes.get("purpose", sub.purpose)
        _check_grant(grant, purpose)
        sub.grant, sub.purpose = grant, purpose
        url = changes.get("url", sub.url)
        enabling = changes.get("enabled") is True and not sub.enabled
        if "url" in changes or enabling:
            _check_url(url, settings, resolve)
        sub.url = url
        if "description" in changes:
            sub.description = changes["description"]
        if "event_types" in changes:
            sub.event_types = " ".join(sorted(set(changes["event_types"])))
        if "areas" in changes:
            sub.areas = " ".join(sorted(set(changes["areas"])))
        if enabling:
            sub.enabled, sub.disabled_reason, sub.disabled_at = True, None, None
        elif changes.get("enabled") is False and sub.enabled:
            sub.enabled, sub.disabled_reason, sub.disabled_at = False, domain.MANUAL, now
            _fail_pending(session, sub.id, "the subscription was disabled")
        if "alerts" in changes:
            _set_alerts(session, sub.id, changes["alerts"], now)
        sub.updated_at = now
        session.flush()
        return _subscription_json(session, sub)


def rotate_secret(db: Database, sub_id: str, overlap: float, now: datetime) -> dict[str, Any]:
    """A new secret signs from now on; the old one signs too for ``overlap`` seconds."""
    secret = new_secret()
    with db.writing() as session:
        sub = _get(session, sub_id)
        sub.previous_secret = sub.secret if overlap > 0 else None
        sub.previous_secret_expires_at = now + timedelta(seconds=overlap) if overlap > 0 else None
        sub.secret = secret
        sub.updated_at = now
        session.flush()
        return {**_subscription_json(session, sub), "secret": secret}


def signing_secrets(sub: Subscription, now: datetime) -> list[str]:
    """The current secret, and the previous one while its overlap lasts."""
    found = [sub.secret]
    if sub.previous_secret and sub.previous_secret_expires_at and (
            now < sub.previous_secret_expires_at):
        found.append(sub.previous_secret)
    return found


def delete_subscription(db: Database, sub_id: str) -> None:
    """The subscription, its alerts, its messages and their delivery log."""
    with db.writing() as session:
        _get(session, sub_id)
        _hold_followers(session)
        alerts = sa.select(SubscriptionAlert.id).where(SubscriptionAlert.subscription_id == sub_id)
        session.execute(sa.delete(AlertState).where(AlertState.alert_id.in_(alerts)))
        session.execute(sa.delete(SubscriptionAlert)
                        .where(SubscriptionAlert.subscription_id == sub_id))
        session.execute(sa.delete(WebhookAttempt).where(WebhookAttempt.subscription_id == sub_id))
        session.execute(sa.delete(WebhookMessage).where(WebhookMessage.subscription_id == sub_id))
        session.execute(sa.delete(Subscription).where(Subscription.id == sub_id))


# -- delivering -----------------------------------------------------------------------------


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
                  Entry.leaf_hash, Entry.event)
        .where(Entry.seq.in_(seqs)).order_by(Entry.seq)).all()
    head = session.get(TreeHeadRow, message.tree_size)
    if head is None or len(rows) != len(seqs):
        raise LookupError(f"message {message.id}: the ledger lacks its entries or tree head")
    sth = TreeHead(head.size, head.timestamp, head.root_hash, head.signature).as_json()
    entries = [{"seq": r.seq, "area": r.area, "org_unit": r.org_unit, "pseudonym": r.pseudonym,
                # exactly as in the leaf bytes, so that a receiver can hash the leaf
                "received_at": rfc3339_of_naive_utc(r.received_at),
                "leaf_hash": base64.b64encode(r.leaf_hash or b"").decode(),
                "event": json.loads(r.event)} for r in rows]
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
    _fail_pending(session, sub.id, "the subscription was disabled")
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


# -- resend, recover, the log ---------------------------------------------------------------


def _enabled(session: Session, sub_id: str) -> Subscription:
    sub = _get(session, sub_id)
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
        _get(session, sub_id)
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
        _get(session, sub_id)
        stmt = sa.select(WebhookAttempt).where(WebhookAttempt.subscription_id == sub_id,
                                               WebhookAttempt.id > after)
        if outcome:
            stmt = stmt.where(WebhookAttempt.outcome == outcome)
        return [_attempt_json(a) for a in
                session.scalars(stmt.order_by(WebhookAttempt.id).limit(limit))]
