"""Each involvement names the CloudEvent that recorded it: the area asks the ledger for
the receipt of that event (GET /v1/involvements/{id}/receipt) by its id.

The rows there are get it from the outbox, which keeps every event the area made: an
``org.ladder.involvement.recorded`` event names its involvement in its data. A row
that a process still running the code before this version writes during the upgrade
gets none; the receipt route then looks for its event in the outbox.

Frozen: plain alembic operations and SQL only, no runtime helpers.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

RECORDED = "org.ladder.involvement.recorded"
PAGE = 1000


def _recorded(payload: str) -> str | None:
    """The involvement an outbox row's event recorded, or None if it recorded none."""
    try:
        event = json.loads(payload)
        involvement_id = event["data"]["involvement_id"] if event["type"] == RECORDED else None
    except (ValueError, TypeError, KeyError):
        return None
    return involvement_id if isinstance(involvement_id, str) else None


def upgrade() -> None:
    op.add_column("involvements",
                  sa.Column("recorded_event_id", sa.String(64), nullable=True))
    bind = op.get_bind()
    after = 0
    while True:
        rows = bind.execute(sa.text(
            "SELECT id, event_id, payload FROM outbox WHERE id > :after AND payload LIKE "
            ":type ORDER BY id LIMIT :page"),
            {"after": after, "type": f"%{RECORDED}%", "page": PAGE}).all()
        if not rows:
            return
        after = rows[-1].id
        found: list[dict[str, Any]] = []
        for row in rows:
            involvement_id = _recorded(row.payload)
            if involvement_id is not None:
                found.append({"event_id": row.event_id, "involvement_id": involvement_id})
        if found:
            bind.execute(sa.text(
                "UPDATE involvements SET recorded_event_id = :event_id "
                "WHERE id = :involvement_id AND recorded_event_id IS NULL"), found)


def downgrade() -> None:
    op.drop_column("involvements", "recorded_event_id")
