"""A witness's tables: the latest checkpoint it cosigned of each log, and every cosignature;
as a regional monitor, the releases of published figures it fetched and checked, their
figures, and those it refused."""

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


class MonitoredLog(Base):
    """Where the witness stands with a ledger's published figures: when it last reached the
    ledger and checked its releases, and what went wrong last time, if anything."""

    __tablename__ = "monitored_logs"

    origin: Mapped[str] = mapped_column(sa.String(512), primary_key=True)
    attempted_at: Mapped[datetime] = mapped_column(sa.DateTime)
    checked_at: Mapped[datetime | None] = mapped_column(sa.DateTime, nullable=True)
    # Unreachable, or a release refused; the problem says which.
    failing: Mapped[bool] = mapped_column(sa.Boolean)
    problem: Mapped[str | None] = mapped_column(sa.Text, nullable=True)


class MonitoredRelease(Base):
    """A release of a ledger's figures that verified, as fetched: the signed tree head it
    was computed from, the checkpoint this witness cosigned that extends that tree, the
    figures byte for byte, and when and from where they came."""

    __tablename__ = "monitored_releases"

    origin: Mapped[str] = mapped_column(sa.String(512), primary_key=True)
    release_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True,
                                            autoincrement=False)
    period_kind: Mapped[str] = mapped_column(sa.String(16))
    period: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime)
    replaces: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    tree_size: Mapped[int] = mapped_column(sa.BigInteger)
    tree_timestamp: Mapped[int] = mapped_column(sa.BigInteger)
    root_hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32))
    tree_head_signature: Mapped[bytes] = mapped_column(sa.LargeBinary(64))
    checkpoint_size: Mapped[int] = mapped_column(sa.BigInteger)
    disclosure: Mapped[str] = mapped_column(sa.Text)
    columns: Mapped[str] = mapped_column(sa.Text)
    figures: Mapped[str] = mapped_column(sa.Text)
    figures_sha256: Mapped[str] = mapped_column(sa.String(64))
    url: Mapped[str] = mapped_column(sa.Text)
    fetched_at: Mapped[datetime] = mapped_column(sa.DateTime)


class MonitoredFigures(Base):
    """One row of a kept release's figures (an area, a unit or all, a period): the
    figures as published, a hidden one as null, and the names of those hidden."""

    __tablename__ = "monitored_figures"
    __table_args__ = (
        sa.ForeignKeyConstraint(["origin", "release_id"],
                                ["monitored_releases.origin", "monitored_releases.release_id"],
                                ondelete="CASCADE"),
        sa.Index("ix_monitored_figures_period", "period", "origin"),
    )

    origin: Mapped[str] = mapped_column(sa.String(512), primary_key=True)
    release_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True,
                                            autoincrement=False)
    area: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    org_unit: Mapped[str] = mapped_column(sa.String(256), primary_key=True)
    period: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    period_kind: Mapped[str] = mapped_column(sa.String(16))
    figures: Mapped[str] = mapped_column(sa.Text)  # JSON: {measure: number or null}
    suppressed: Mapped[str] = mapped_column(sa.Text)  # space-separated, as published


class RefusedRelease(Base):
    """A release whose figures did not verify: never kept as good, checked again each time,
    and recorded with the reason, how often and when."""

    __tablename__ = "refused_releases"
    __table_args__ = (sa.UniqueConstraint("origin", "release_id",
                                          name="uq_refused_releases_origin_release"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    origin: Mapped[str] = mapped_column(sa.String(512))
    release_id: Mapped[int] = mapped_column(sa.BigInteger)
    period: Mapped[str | None] = mapped_column(sa.String(16), nullable=True)
    reason: Mapped[str] = mapped_column(sa.Text)
    url: Mapped[str] = mapped_column(sa.Text)
    first_refused_at: Mapped[datetime] = mapped_column(sa.DateTime)
    last_refused_at: Mapped[datetime] = mapped_column(sa.DateTime)
    times: Mapped[int] = mapped_column(sa.Integer)
