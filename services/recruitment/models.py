"""Recruitment's tables: vacancies, involvements and the outbox."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.outbox import OutboxMixin


class Base(DeclarativeBase):
    pass


class Outbox(OutboxMixin, Base):
    __tablename__ = "outbox"


class Vacancy(Base):
    __tablename__ = "vacancies"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    role: Mapped[str] = mapped_column(sa.String(200))
    org_unit: Mapped[str] = mapped_column(sa.String(256))
    opened_on: Mapped[date] = mapped_column(sa.Date)
    status: Mapped[str] = mapped_column(sa.String(20), default="open")
    created_at: Mapped[datetime] = mapped_column(sa.DateTime)


class Involvement(Base):
    __tablename__ = "involvements"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    vacancy_id: Mapped[str] = mapped_column(sa.ForeignKey("vacancies.id"), index=True)
    pseudonym: Mapped[str] = mapped_column(sa.String(64), index=True)
    stage: Mapped[str] = mapped_column(sa.String(64))
    role: Mapped[str] = mapped_column(sa.String(64))
    hours: Mapped[float] = mapped_column(sa.Float)
    recognition: Mapped[str] = mapped_column(sa.String(32))
    decision_power: Mapped[str] = mapped_column(sa.String(32))
    from_start: Mapped[bool] = mapped_column(sa.Boolean)
    feedback_given: Mapped[bool] = mapped_column(sa.Boolean)
    step: Mapped[int] = mapped_column(sa.Integer)
    rubric_version: Mapped[str] = mapped_column(sa.String(32))
    recorded_at: Mapped[datetime] = mapped_column(sa.DateTime)
