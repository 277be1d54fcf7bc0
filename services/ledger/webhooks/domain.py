"""Webhooks out, the plain-Python part: what a subscriber can ask for, the messages it
gets, and when a failed delivery is tried again. No Flask, no database.
"""

from __future__ import annotations

import email.utils
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.ledger.domain import canonical_json
from shared.envelope import EVENT_TYPE_PREFIX, EVENT_TYPES
from shared.times import rfc3339_of_naive_utc

SOURCE = "/ladder/ledger"

# What a subscriber hears. An entries message tells of a batch the ledger appended:
# to an inspect grant, with the entries of the types and areas it asked for; to a read
# grant, only the batch's sequence numbers and tree head. Alert and operational
# messages carry one event each.
ENTRIES_APPENDED = EVENT_TYPE_PREFIX + "entries.appended"
ALERT_TRIGGERED = EVENT_TYPE_PREFIX + "alert.triggered"
ALERT_RESOLVED = EVENT_TYPE_PREFIX + "alert.resolved"
SUBSCRIPTION_DISABLED = EVENT_TYPE_PREFIX + "subscription.disabled"
ALERT_TYPES = (ALERT_TRIGGERED, ALERT_RESOLVED)
# Operational events go only to subscriptions that name them in their filter.
OPERATIONAL_TYPES = (SUBSCRIPTION_DISABLED,)
FILTER_TYPES = EVENT_TYPES + ALERT_TYPES + OPERATIONAL_TYPES

# A subscription's grant, the ledger's reader tiers (docs/api.md): read hears no more
# of entries than the public tree head tells; inspect gets them, for a stated purpose.
READ, INSPECT = "read", "inspect"
GRANTS = (READ, INSPECT)

# The figures of services.ledger.measures.measures() an alert can watch.
MEASURES = ("coverage", "index", "median_step", "co_design_or_higher", "co_production",
            "recognition_rate", "decision_vote_share", "feedback_rate", "told_rate",
            "change_rate", "median_days_to_feedback", "non_financial_share", "activities",
            "activities_involved", "involvements", "citizens", "returning_citizens", "hours",
            "told", "changed")
OPERATORS = ("below", "above")

PENDING, SUCCEEDED, FAILED = "pending", "succeeded", "failed"
MANUAL, GONE, FAILING = "manual", "gone", "failing"

# A Retry-After longer than this is taken as this.
RETRY_AFTER_MAX = 86400.0
# How much of an answer the delivery log keeps.
RESPONSE_BYTES = 1024


def new_subscription_id() -> str:
    return "sub_" + secrets.token_hex(12)


def message_row(sub_id: str, event_type: str, now: datetime, **values: Any) -> dict[str, Any]:
    """A new ``webhook_messages`` row, due now. Marked enqueued: whoever writes it hands
    it to the broker right after the commit, and the sweep does if that never happens."""
    return {"id": new_message_id(), "subscription_id": sub_id, "event_type": event_type,
            "created_at": now, "status": PENDING, "attempts": 0, "schedule_step": 0,
            "next_attempt_at": now, "enqueued_at": now, "seqs": None, "first_seq": None,
            "last_seq": None, "tree_size": None, "payload": None, **values}


def new_message_id(now: float | None = None) -> str:
    """``msg_`` + milliseconds in hex + randomness: ids sort in the order they were made."""
    ms = int((time.time() if now is None else now) * 1000)
    return f"msg_{ms:012x}{secrets.token_hex(10)}"


def split(text: str) -> set[str]:
    return set(text.split())


def wants_type(event_types: set[str], event_type: str) -> bool:
    """An empty filter means every entry and alert type, but no operational type."""
    if not event_types:
        return event_type not in OPERATIONAL_TYPES
    return event_type in event_types


def wants_entry(event_types: set[str], areas: set[str], entry_type: str, area: str) -> bool:
    return (not areas or area in areas) and wants_type(event_types, entry_type)


def wants_entries(event_types: set[str]) -> bool:
    """Whether a filter asks to hear of entries at all: empty, or naming an entry type.

    A read grant's notice depends on this alone, never on what the batch held: which
    areas and types a batch touched is itself entry-level.
    """
    return not event_types or not event_types.isdisjoint(EVENT_TYPES)


def breached(operator: str, value: float, threshold: float) -> bool:
    return value < threshold if operator == "below" else value > threshold


# -- the schedule ---------------------------------------------------------------------------


def jittered(delay: float, jitter: float, rand: Callable[[], float]) -> float:
    """``delay`` moved by up to ``jitter`` of itself either way, so that retries spread."""
    return delay * (1 + jitter * (2 * rand() - 1))


def retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds a Retry-After header asks for (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), RETRY_AFTER_MAX)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = (when - now.replace(tzinfo=UTC)).total_seconds()
    return min(max(seconds, 0.0), RETRY_AFTER_MAX)


@dataclass(frozen=True)
class Verdict:
    """What comes of an attempt: succeeded, retry (after ``delay`` s), exhausted or gone."""

    outcome: str
    delay: float | None = None


def judge(status: int | None, headers: dict[str, str], step: int, schedule: tuple[float, ...],
          jitter: float, rand: Callable[[], float], now: datetime) -> Verdict:
    """After the attempt at ``step`` of ``schedule`` answered ``status`` (None: no answer).

    2xx succeeds; 410 Gone means the endpoint is gone for good; anything else (a
    redirect included: they are not followed) is retried at the schedule's next delay,
    or after Retry-After on 429 and 503, until the schedule is spent.
    """
    if status is not None and 200 <= status < 300:
        return Verdict("succeeded")
    if status == 410:
        return Verdict("gone")
    following = step + 1
    if following >= len(schedule):
        return Verdict("exhausted")
    delay = None
    if status in (429, 503):
        delay = retry_after(headers.get("retry-after"), now)
    if delay is None:
        delay = jittered(schedule[following], jitter, rand)
    return Verdict("retry", delay)


# -- messages -------------------------------------------------------------------------------


def cloudevent(message_id: str, event_type: str, subject: str, when: datetime,
               data: dict[str, Any]) -> str:
    """The body of a message: one CloudEvent in structured JSON mode, its id the webhook-id."""
    return canonical_json({
        "specversion": "1.0", "id": message_id, "source": SOURCE, "type": event_type,
        "subject": subject, "time": rfc3339_of_naive_utc(when),
        "datacontenttype": "application/json", "data": data,
    })


def batch_event(message_id: str, subscription_id: str, first: int, last: int,
                tree_head: dict[str, Any], when: datetime, **more: Any) -> str:
    """Seqs ``first`` to ``last`` were appended, under this tree head. Alone, a read
    grant's notice: no more than the public tree heads tell."""
    return cloudevent(message_id, ENTRIES_APPENDED, f"entries/{first}-{last}", when, {
        "subscription": subscription_id, "first_seq": first, "last_seq": last,
        "tree_head": tree_head, **more})


def entries_event(message_id: str, subscription_id: str, entries: list[dict[str, Any]],
                  tree_head: dict[str, Any], when: datetime) -> str:
    """An inspect grant's message: new entries, each with its seq and leaf hash, and the
    signed tree head over them."""
    return batch_event(message_id, subscription_id, entries[0]["seq"], entries[-1]["seq"],
                       tree_head, when, entries=entries)


def alert_event(message_id: str, subscription_id: str, alert: dict[str, Any], period: str,
                starts: str, value: float, previous: float | None, triggered: bool,
                tree_head: dict[str, Any], when: datetime) -> str:
    """An alert's crossing, with the disclosure-controlled value it crossed at."""
    subject = f"{alert['area']}/{alert['measure']}/{period}"
    return cloudevent(message_id, ALERT_TRIGGERED if triggered else ALERT_RESOLVED, subject,
                      when, {"subscription": subscription_id, "alert": alert, "period": period,
                             "starts": starts, "value": value, "previous": previous,
                             "tree_head": tree_head})


def disabled_event(message_id: str, subscription: dict[str, Any], reason: str,
                   cause: dict[str, Any], when: datetime) -> str:
    return cloudevent(message_id, SUBSCRIPTION_DISABLED, f"subscriptions/{subscription['id']}",
                      when, {**subscription, "reason": reason, "cause": cause})

