"""Webhooks out, the subscriptions: create, read, change and delete them, their alerts,
and the secrets that sign what they are sent."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.ledger.models import (
    AlertState,
    FollowerPosition,
    Subscription,
    SubscriptionAlert,
    WebhookAttempt,
    WebhookMessage,
)
from services.ledger.projection import ALL_UNITS
from services.ledger.webhooks import domain
from services.ledger.webhooks.domain import FAILED, PENDING
from services.ledger.webhooks.settings import Settings
from shared import outbound
from shared.auth import purpose_problem
from shared.db import Database
from shared.errors import Invalid, NotFound
from shared.webhooks import new_secret


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


def get(session: Session, sub_id: str) -> Subscription:
    sub = session.get(Subscription, sub_id)
    if sub is None:
        raise NotFound(f"No subscription {sub_id}.")
    return sub


def get_subscription(db: Database, sub_id: str) -> dict[str, Any]:
    with db.reading() as session:
        return _subscription_json(session, get(session, sub_id))


def list_subscriptions(db: Database) -> list[dict[str, Any]]:
    with db.reading() as session:
        subs = session.scalars(sa.select(Subscription).order_by(Subscription.created_at,
                                                                Subscription.id))
        return [_subscription_json(session, sub) for sub in subs]


def fail_pending(session: Session, sub_id: str, reason: str) -> None:
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
        sub = get(session, sub_id)
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
            fail_pending(session, sub.id, "the subscription was disabled")
        if "alerts" in changes:
            _set_alerts(session, sub.id, changes["alerts"], now)
        sub.updated_at = now
        session.flush()
        return _subscription_json(session, sub)


def rotate_secret(db: Database, sub_id: str, overlap: float, now: datetime) -> dict[str, Any]:
    """A new secret signs from now on; the old one signs too for ``overlap`` seconds."""
    secret = new_secret()
    with db.writing() as session:
        sub = get(session, sub_id)
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
        get(session, sub_id)
        _hold_followers(session)
        alerts = sa.select(SubscriptionAlert.id).where(SubscriptionAlert.subscription_id == sub_id)
        session.execute(sa.delete(AlertState).where(AlertState.alert_id.in_(alerts)))
        session.execute(sa.delete(SubscriptionAlert)
                        .where(SubscriptionAlert.subscription_id == sub_id))
        session.execute(sa.delete(WebhookAttempt).where(WebhookAttempt.subscription_id == sub_id))
        session.execute(sa.delete(WebhookMessage).where(WebhookMessage.subscription_id == sub_id))
        session.execute(sa.delete(Subscription).where(Subscription.id == sub_id))
