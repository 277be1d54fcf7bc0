"""The outbox's backlog, read from its table: what waits to be published, to be
confirmed, and what is held. Each domain service serves these at ``/metrics``."""

from __future__ import annotations

import sqlalchemy as sa

from shared.db import Database
from shared.outbox.tables import OutboxMixin
from shared.times import naive_utcnow


def pending_count(db: Database, model: type[OutboxMixin]) -> int:
    with db.reading() as session:
        return int(
            session.scalar(
                sa.select(sa.func.count()).select_from(model)
            .where(model.published_at.is_(None), model.held_at.is_(None))
            )
            or 0
        )


def backlog(db: Database, model: type[OutboxMixin]) -> list[tuple[str, str, float]]:
    """The outbox's backlog, as metrics: what waits to be published, and to be confirmed."""
    with db.reading() as session:
        pending, oldest = session.execute(
            sa.select(sa.func.count(), sa.func.min(model.created_at))
            .where(model.published_at.is_(None), model.held_at.is_(None))).one()
        unconfirmed = session.scalar(
            sa.select(sa.func.count()).select_from(model)
            .where(model.confirmed_at.is_(None), model.published_at.is_not(None)))
        held = session.scalar(sa.select(sa.func.count()).select_from(model)
                              .where(model.held_at.is_not(None)))
    age = (naive_utcnow() - oldest).total_seconds() if oldest is not None else 0.0
    return [
        ("ladder_outbox_pending_events", "Events waiting for the relay to publish them",
         float(pending or 0)),
        ("ladder_outbox_unconfirmed_events",
         "Events published but not yet seen in the ledger", float(unconfirmed or 0)),
        ("ladder_outbox_oldest_pending_seconds",
         "Age of the oldest event waiting to be published (0 when none waits)", max(0.0, age)),
        ("ladder_outbox_held_events",
         "Events the relay cannot publish at all, held for an admin (GET /v1/outbox/held)",
         float(held or 0)),
    ]
