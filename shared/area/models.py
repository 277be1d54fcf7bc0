"""The tables every domain service has, in its own database."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.auth import TokenMixin
from shared.outbox import OutboxMixin
from shared.sessions import SessionMixin
from shared.webhooks import IntegrationMixin, ReceiptMixin


class Base(DeclarativeBase):
    pass


class Outbox(OutboxMixin, Base):
    __tablename__ = "outbox"


class ApiToken(TokenMixin, Base):
    __tablename__ = "api_tokens"


class Integration(IntegrationMixin, Base):
    __tablename__ = "integrations"


class RecordingSession(SessionMixin, Base):
    """A member of staff signed in to the recording pages (shared/sessions.py)."""

    __tablename__ = "recording_sessions"


class Receipt(ReceiptMixin, Base):
    __tablename__ = "receipts"


class Citizen(Base):
    """Links an organisation's citizen reference to its pseudonym, until erasure.

    ``rule`` is the normalisation rule the lookup was made under (shared/area/
    references.py). A row holds a salt, or, for a citizen first recorded under rule
    1 and since found again, the pseudonym rule 1 gave them: it was made from the
    reference as then sent, which a variant of it cannot rebuild.
    """

    __tablename__ = "citizens"
    __table_args__ = (sa.CheckConstraint("(salt IS NULL) <> (pseudonym IS NULL)",
                                         name="ck_citizens_salt_or_pseudonym"),)

    lookup: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    salt: Mapped[str | None] = mapped_column(sa.String(64))
    rule: Mapped[int] = mapped_column(sa.Integer, server_default="1")
    pseudonym: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime)


class Activity(Base):
    """A vacancy, a training session, an inspection, a meeting: what coverage is counted
    over."""

    __tablename__ = "activities"

    n: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(32))
    org_unit: Mapped[str] = mapped_column(sa.String(256))
    status: Mapped[str] = mapped_column(sa.String(16))
    details: Mapped[str] = mapped_column(sa.Text)
    revision: Mapped[int] = mapped_column(sa.Integer)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime)


class Involvement(Base):
    """A citizen's contribution to one stage of an activity, with the facts and the step."""

    __tablename__ = "involvements"

    n: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    activity_id: Mapped[str] = mapped_column(sa.ForeignKey("activities.id"), index=True)
    pseudonym: Mapped[str] = mapped_column(sa.String(64), index=True)
    stage: Mapped[str] = mapped_column(sa.String(64))
    role: Mapped[str] = mapped_column(sa.String(64))
    hours: Mapped[float] = mapped_column(sa.Float)
    recognition: Mapped[str] = mapped_column(sa.String(32))
    decision_power: Mapped[str] = mapped_column(sa.String(32))
    from_start: Mapped[bool] = mapped_column(sa.Boolean)
    feedback_given: Mapped[bool] = mapped_column(sa.Boolean)
    extras: Mapped[str] = mapped_column(sa.Text)
    step: Mapped[int] = mapped_column(sa.Integer)
    rubric_version: Mapped[str] = mapped_column(sa.String(32))
    rubric_rule: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(16))
    revision: Mapped[int] = mapped_column(sa.Integer)
    recorded_at: Mapped[datetime] = mapped_column(sa.DateTime)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime)
    # The id of the CloudEvent that recorded it, by which the ledger's receipt of it is
    # asked for (shared/area/receipts.py). None only on a row that code older than
    # migration 0006 wrote after that migration filled in the rows there were.
    recorded_event_id: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)


class Impact(Base):
    """"You said, we did": what citizens said, what came of it, and when they were told.

    The words stay here, for the area's own staff: events carry no free text. The
    ledger gets the structured facts and ``commitment``, a SHA-256 of ``salt`` and the
    words, which shows later that these are the words that were there.
    """

    __tablename__ = "impacts"

    n: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    activity_id: Mapped[str] = mapped_column(sa.ForeignKey("activities.id"), index=True)
    # None: the record is of the whole activity, and of every involvement in it.
    involvement_id: Mapped[str | None] = mapped_column(sa.ForeignKey("involvements.id"),
                                                       nullable=True)
    said: Mapped[str] = mapped_column(sa.Text)
    outcome: Mapped[str] = mapped_column(sa.String(16))
    change_kind: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)
    what_changed: Mapped[str] = mapped_column(sa.Text)
    told_on: Mapped[date | None] = mapped_column(sa.Date, nullable=True)
    salt: Mapped[str] = mapped_column(sa.String(32))
    commitment: Mapped[str] = mapped_column(sa.String(64))
    revision: Mapped[int] = mapped_column(sa.Integer)
    recorded_at: Mapped[datetime] = mapped_column(sa.DateTime)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime)
