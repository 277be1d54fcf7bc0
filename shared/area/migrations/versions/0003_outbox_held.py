"""Outbox rows the relay cannot publish are held, visibly, instead of retried forever.

Numbered 0003 because training's own 0002 (courses) also follows 0001: a training
database has both, as two branches that ``upgrade heads`` applies.

Revision ID: 0003
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as table:
        table.add_column(sa.Column("held_at", sa.DateTime, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as table:
        table.drop_column("held_at")
