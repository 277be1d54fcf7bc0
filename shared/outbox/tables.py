"""The outbox table each domain service has: its columns and indexes."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from shared.times import naive_utcnow


class OutboxMixin:
    """Columns of a service's ``outbox`` table."""

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    payload: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime, default=naive_utcnow)
    published_at: Mapped[datetime | None] = mapped_column(sa.DateTime, nullable=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(sa.DateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    # Set when the relay cannot publish the row at all (see ``Unpublishable``): it is
    # left out of every pass until an admin deals with it, and counted meanwhile.
    held_at: Mapped[datetime | None] = mapped_column(sa.DateTime, nullable=True)

    @declared_attr.directive
    @classmethod
    def __table_args__(cls) -> tuple[sa.Index, ...]:
        # The relay's two scans: rows still to publish, and published rows the ledger is
        # not yet seen to hold.
        return (
            sa.Index("ix_outbox_pending", "id",
                     sqlite_where=sa.text("published_at IS NULL"),
                     postgresql_where=sa.text("published_at IS NULL")),
            sa.Index("ix_outbox_unconfirmed", "published_at",
                     sqlite_where=sa.text("confirmed_at IS NULL"),
                     postgresql_where=sa.text("confirmed_at IS NULL")),
        )
