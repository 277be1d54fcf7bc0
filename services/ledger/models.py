"""The ledger's tables: the append-only entries, the head, and rejected events."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Head(Base):
    """A single row: how many entries the ledger holds. Locking it serialises appends."""

    __tablename__ = "ledger_head"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    size: Mapped[int] = mapped_column(sa.BigInteger)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime)


class Entry(Base):
    """One accepted event. ``seq`` is gapless and never reused; rows are never updated."""

    __tablename__ = "entries"
    __table_args__ = (
        sa.UniqueConstraint("source", "event_id", name="uq_entries_source_event_id"),
        sa.Index("ix_entries_area_seq", "area", "seq"),
        sa.Index("ix_entries_type_seq", "type", "seq"),
        sa.Index("ix_entries_time", "time"),
    )

    seq: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(sa.String(512))
    event_id: Mapped[str] = mapped_column(sa.String(512))
    type: Mapped[str] = mapped_column(sa.String(512))
    subject: Mapped[str | None] = mapped_column(sa.String(512), nullable=True)
    area: Mapped[str] = mapped_column(sa.String(64))
    org_unit: Mapped[str | None] = mapped_column(sa.String(256), nullable=True)
    time: Mapped[datetime] = mapped_column(sa.DateTime)
    received_at: Mapped[datetime] = mapped_column(sa.DateTime)
    event: Mapped[str] = mapped_column(sa.Text)


class Rejected(Base):
    """An event the ledger could not accept, kept with the reason."""

    __tablename__ = "rejected"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(sa.DateTime)
    reason: Mapped[str] = mapped_column(sa.Text)
    payload: Mapped[str] = mapped_column(sa.Text)
