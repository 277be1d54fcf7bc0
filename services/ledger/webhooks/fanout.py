"""Webhooks out, what the followers of the log write: for new entries, the messages each
subscription is owed (the webhook follower); for the figures those entries moved, the alerts
whose condition started or stopped holding (the measures follower, in its own transaction,
so that an alert reads the figures exactly as the entries left them).

Only small rows are written here; an entries message's body is built at its first attempt
(services/ledger/webhooks/delivery.py: deliver).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.ledger.measures import period_start
from services.ledger.metrics import MetricsQuery, report_in
from services.ledger.models import AlertState, Subscription, SubscriptionAlert, WebhookMessage
from services.ledger.projection import ALL_UNITS
from services.ledger.signing import TreeHead
from services.ledger.webhooks import domain
from services.ledger.webhooks.settings import Settings
from services.ledger.webhooks.subscriptions import alert_json
from shared.chunks import chunks

# (area, org unit or '*', period kind, period): an aggregate a step of entries moved
Touched = tuple[str, str, str, str]


def entry_messages(session: Session, entries: list[dict[str, Any]], tree_head: TreeHead,
                   now: datetime, settings: Settings) -> list[str]:
    """The webhook follower's effect, for entries it has not fanned out yet: for each
    subscriber of an inspect grant, one message per chunk of matching entries; of a
    read grant, one notice of the entries if it wants entries at all. Returns their ids.

    Only small rows are written here; an entries message's body is built at its first
    attempt.
    """
    subs = session.execute(sa.select(Subscription.id, Subscription.event_types,
                                     Subscription.areas, Subscription.grant)
                           .where(Subscription.enabled)).all()
    if not subs or not entries:
        return []
    first, last = entries[0]["seq"], entries[-1]["seq"]
    rows: list[dict[str, Any]] = []
    for sub_id, types_text, areas_text, grant in subs:
        types, areas = domain.split(types_text), domain.split(areas_text)
        if grant != domain.INSPECT:
            if domain.wants_entries(types):
                row = domain.message_row(sub_id, domain.ENTRIES_APPENDED, now,
                                         first_seq=first, last_seq=last,
                                         tree_size=tree_head.size)
                row["payload"] = domain.batch_event(row["id"], sub_id, first, last,
                                                    tree_head.as_json(), now)
                rows.append(row)
            continue
        matching = [e["seq"] for e in entries
                    if domain.wants_entry(types, areas, e["type"], e["area"])]
        # A message names at most max_entries entries: a subscriber's batch size.
        for chunk in chunks(matching, settings.max_entries):
            rows.append(domain.message_row(sub_id, domain.ENTRIES_APPENDED, now,
                                           seqs=",".join(map(str, chunk)),
                                           first_seq=chunk[0], last_seq=chunk[-1],
                                           tree_size=tree_head.size))
    return _insert(session, rows)


def alert_messages(session: Session, touched: set[Touched], tree_head: TreeHead,
                   now: datetime, settings: Settings) -> list[str]:
    """The measures follower's second effect, in its transaction, so that an alert reads
    the figures exactly as the entries it has just applied left them: one message per
    alert whose condition started or stopped holding in a touched period."""
    return _insert(session, _alerts(session, touched, tree_head, now, settings))


def _insert(session: Session, rows: list[dict[str, Any]]) -> list[str]:
    if rows:
        session.execute(sa.insert(WebhookMessage), rows)
    return [row["id"] for row in rows]


def _alerts(session: Session, touched: set[Touched], tree_head: TreeHead, now: datetime,
            settings: Settings) -> list[dict[str, Any]]:
    """Messages for alerts whose condition started or stopped holding in a touched period."""
    areas = sorted({key[0] for key in touched})
    if not areas:
        return []
    found = session.execute(
        sa.select(SubscriptionAlert, Subscription.event_types)
        .join(Subscription, Subscription.id == SubscriptionAlert.subscription_id)
        .where(Subscription.enabled, SubscriptionAlert.area.in_(areas))
        .order_by(SubscriptionAlert.id)).all()
    rows: list[dict[str, Any]] = []
    for alert, types_text in found:
        periods = sorted(period for area, unit, kind, period in touched
                         if (area, unit, kind) == (alert.area, alert.org_unit, alert.period))
        for period in periods:
            row = _evaluate(session, alert, period, domain.split(types_text), tree_head, now,
                            settings)
            if row:
                rows.append(row)
    return rows


def _evaluate(session: Session, alert: SubscriptionAlert, period: str, types: set[str],
              tree_head: TreeHead, now: datetime, settings: Settings) -> dict[str, Any] | None:
    """Once per crossing: a message only when the condition flips for this period.

    The measure is the one a reader below admin sees: disclosure-controlled, so that
    neither its value nor the moment it crosses reveals a small count. While it is
    hidden (too few under it) or has nothing to divide by, it is on neither side.
    """
    starts = period_start(alert.period, period)
    query = MetricsQuery(start=starts, end=starts, area=alert.area, period=alert.period,
                         org_unit=None if alert.org_unit == ALL_UNITS else alert.org_unit)
    value = report_in(session, query, settings.disclosure)["rows"][0][alert.measure]
    if value is None:
        return None
    holds = domain.breached(alert.operator, float(value), alert.threshold)
    state = session.get(AlertState, (alert.id, period))
    previous = state.value if state else None
    if state is None:
        state = AlertState(alert_id=alert.id, period=period, breached=False, value=None,
                           changed_at=now)
        session.add(state)
    was = state.breached
    state.value = float(value)
    if holds == was:
        return None
    state.breached, state.changed_at = holds, now
    event_type = domain.ALERT_TRIGGERED if holds else domain.ALERT_RESOLVED
    if not domain.wants_type(types, event_type):
        return None
    message = domain.message_row(alert.subscription_id, event_type, now)
    message["payload"] = domain.alert_event(
        message["id"], alert.subscription_id, alert_json(alert), period,
        starts.isoformat(), float(value), previous, holds, tree_head.as_json(), now)
    return message
