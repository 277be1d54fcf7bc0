"""How a use case puts its events in the outbox: in its own transaction, stamped with
the request that caused them.

An event caused by an HTTP request carries that request's id as the CloudEvent
extension attribute ``requestid``: it travels with the event through the relay and
the Celery task into the ledger worker's log lines, and stays in the ledger entry,
so an entry leads back to the request that made it (shared/logs.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import Session

from shared import logs
from shared.db import stage
from shared.times import naive_utcnow

REQUEST_ID_ATTRIBUTE = "requestid"


def add(session: Session, model: Any, events: Iterable[dict[str, Any]]) -> None:
    """Stage events in the caller's transaction; they commit with the domain write."""
    now = naive_utcnow()
    request_id = logs.current_request_id()
    stamp = {REQUEST_ID_ATTRIBUTE: request_id} if request_id else {}
    for e in events:
        stage(session, model.__table__, {
            "event_id": e["id"], "payload": json.dumps({**e, **stamp}, separators=(",", ":")),
            "created_at": now, "published_at": None, "confirmed_at": None, "attempts": 0,
            "last_error": None})


def request_ids(events: Iterable[Any]) -> list[str]:
    """The distinct request ids that caused these events, in order."""
    seen: dict[str, None] = {}
    for event in events:
        value = event.get(REQUEST_ID_ATTRIBUTE) if isinstance(event, dict) else None
        if isinstance(value, str):
            seen.setdefault(value)
    return list(seen)
