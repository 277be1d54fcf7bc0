"""Outbox rows the relay cannot publish at all: held out of every pass, with the
reason, for an admin to see (``GET /v1/outbox/held``) instead of retried blindly."""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa

from shared.db import Database
from shared.outbox.tables import OutboxMixin
from shared.times import naive_utcnow

log = logging.getLogger(__name__)


def hold(db: Database, model: type[OutboxMixin], reasons: dict[int, str]) -> None:
    """Take rows out of the relay's passes, each with the reason, for an admin to see."""
    log.error("%d outbox rows cannot be published and are held: %s", len(reasons),
              "; ".join(f"{i}: {why}" for i, why in sorted(reasons.items())))
    now = naive_utcnow()
    with db.writing() as session:
        for row_id, why in reasons.items():
            session.execute(sa.update(model).where(model.id == row_id)
                            .values(held_at=now, last_error=why[:1000]))


def list_held(db: Database, model: type[OutboxMixin], after: int,
              limit: int) -> list[dict[str, Any]]:
    """Held rows, oldest first: what an admin must look at."""
    with db.reading() as session:
        rows = session.scalars(sa.select(model).where(model.held_at.is_not(None),
                                                      model.id > after)
                               .order_by(model.id).limit(limit))
        return [{"id": r.id, "event_id": r.event_id, "created_at": r.created_at,
                 "held_at": r.held_at, "reason": r.last_error, "payload": r.payload}
                for r in rows]
