"""A witness's tables: the latest checkpoint it cosigned of each log, and every cosignature."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class WitnessedLog(Base):
    """One log the witness follows, by origin; the row each cosignature locks, so that two
    checkpoints of one log are checked and recorded one after the other."""

    __tablename__ = "witnessed_logs"

    origin: Mapped[str] = mapped_column(sa.String(512), primary_key=True)
    size: Mapped[int] = mapped_column(sa.BigInteger)
    root: Mapped[bytes | None] = mapped_column(sa.LargeBinary(32), nullable=True)
    checkpoint: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    cosigned_at: Mapped[datetime | None] = mapped_column(sa.DateTime, nullable=True)


class Cosignature(Base):
    """Every checkpoint the witness cosigned, with its cosignature line: what it vouched
    for, and when."""

    __tablename__ = "cosignatures"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    origin: Mapped[str] = mapped_column(sa.String(512), index=True)
    size: Mapped[int] = mapped_column(sa.BigInteger)
    root: Mapped[bytes] = mapped_column(sa.LargeBinary(32))
    timestamp: Mapped[int] = mapped_column(sa.BigInteger)
    line: Mapped[str] = mapped_column(sa.Text)
