"""Rejected events keep their (source, id), so the relay stops resending what the ledger
has refused.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("rejected") as table:
        table.add_column(sa.Column("source", sa.String(512), nullable=True))
        table.add_column(sa.Column("event_id", sa.String(512), nullable=True))
        table.add_column(sa.Column("key_digest", sa.String(64), nullable=True))
        table.create_index("ix_rejected_key_digest", ["key_digest"])


def downgrade() -> None:
    with op.batch_alter_table("rejected") as table:
        table.drop_index("ix_rejected_key_digest")
        table.drop_column("key_digest")
        table.drop_column("event_id")
        table.drop_column("source")
