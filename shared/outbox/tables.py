"""The outbox table each domain service has: its columns, and the migration that makes it."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Mapped, declared_attr, mapped_column


def utcnow() -> datetime:
    """Now, in UTC without a zone: how every table stores a moment."""
    return datetime.now(UTC).replace(tzinfo=None)


class OutboxMixin:
    """Columns of a service's ``outbox`` table."""

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    payload: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime, default=utcnow)
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


def create_outbox_table() -> None:
    """Alembic operations that create the outbox, for each service's first migration."""
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("published_at", sa.DateTime, nullable=True),
        sa.Column("confirmed_at", sa.DateTime, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text, nullable=True),
    )
    op.create_index(
        "ix_outbox_unconfirmed",
        "outbox",
        ["published_at"],
        sqlite_where=sa.text("confirmed_at IS NULL"),
        postgresql_where=sa.text("confirmed_at IS NULL"),
    )
    op.create_index(
        "ix_outbox_pending",
        "outbox",
        ["id"],
        sqlite_where=sa.text("published_at IS NULL"),
        postgresql_where=sa.text("published_at IS NULL"),
    )
