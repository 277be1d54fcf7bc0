"""Training's tables: the common area tables (a session is an activity) and courses."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from shared.area.models import Activity, ApiToken, Base, Involvement, Outbox

__all__ = ["Activity", "ApiToken", "Base", "Course", "Involvement", "Outbox"]


class Course(Base):
    """A course within a programme; its sessions are the activities."""

    __tablename__ = "courses"

    n: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    programme: Mapped[str] = mapped_column(sa.String(200))
    org_unit: Mapped[str] = mapped_column(sa.String(256))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime)
