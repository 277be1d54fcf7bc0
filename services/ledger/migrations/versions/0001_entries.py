"""Entries, head and rejected events.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_head",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.execute("INSERT INTO ledger_head (id, size, updated_at) VALUES (1, 0, CURRENT_TIMESTAMP)")
    op.create_table(
        "entries",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("source", sa.String(512), nullable=False),
        sa.Column("event_id", sa.String(512), nullable=False),
        sa.Column("type", sa.String(512), nullable=False),
        sa.Column("subject", sa.String(512), nullable=True),
        sa.Column("area", sa.String(64), nullable=False),
        sa.Column("org_unit", sa.String(256), nullable=True),
        sa.Column("time", sa.DateTime, nullable=False),
        sa.Column("received_at", sa.DateTime, nullable=False),
        sa.Column("event", sa.Text, nullable=False),
        sa.UniqueConstraint("source", "event_id", name="uq_entries_source_event_id"),
    )
    op.create_index("ix_entries_area_seq", "entries", ["area", "seq"])
    op.create_index("ix_entries_type_seq", "entries", ["type", "seq"])
    op.create_index("ix_entries_time", "entries", ["time"])
    op.create_table(
        "rejected",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("received_at", sa.DateTime, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("rejected")
    op.drop_table("entries")
    op.drop_table("ledger_head")
