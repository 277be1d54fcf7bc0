"""The outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

from shared.outbox import create_outbox_table

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_outbox_table()


def downgrade() -> None:
    op.drop_table("outbox")
