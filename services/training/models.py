"""Training's tables; the area's own model arrives with its domain."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from shared.outbox import OutboxMixin


class Base(DeclarativeBase):
    pass


class Outbox(OutboxMixin, Base):
    __tablename__ = "outbox"
