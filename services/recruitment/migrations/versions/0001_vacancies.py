"""Vacancies, involvements and the outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shared.outbox import create_outbox_table

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_outbox_table()
    op.create_table(
        "vacancies",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("role", sa.String(200), nullable=False),
        sa.Column("org_unit", sa.String(256), nullable=False),
        sa.Column("opened_on", sa.Date, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "involvements",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("vacancy_id", sa.String(36), sa.ForeignKey("vacancies.id"), nullable=False),
        sa.Column("pseudonym", sa.String(64), nullable=False),
        sa.Column("stage", sa.String(64), nullable=False),
        sa.Column("role", sa.String(64), nullable=False),
        sa.Column("hours", sa.Float, nullable=False),
        sa.Column("recognition", sa.String(32), nullable=False),
        sa.Column("decision_power", sa.String(32), nullable=False),
        sa.Column("from_start", sa.Boolean, nullable=False),
        sa.Column("feedback_given", sa.Boolean, nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("rubric_version", sa.String(32), nullable=False),
        sa.Column("recorded_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_involvements_vacancy_id", "involvements", ["vacancy_id"])
    op.create_index("ix_involvements_pseudonym", "involvements", ["pseudonym"])


def downgrade() -> None:
    op.drop_table("involvements")
    op.drop_table("vacancies")
    op.drop_table("outbox")
