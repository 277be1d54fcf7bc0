"""Impact records ("you said, we did"): what citizens said, what came of it, when they
were told; the words stay here, the ledger gets a commitment to them.

Frozen: plain alembic operations only, no runtime helpers.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "impacts",
        sa.Column("n", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(64), nullable=False, unique=True),
        sa.Column("activity_id", sa.String(64), sa.ForeignKey("activities.id"),
                  nullable=False),
        sa.Column("involvement_id", sa.String(64), sa.ForeignKey("involvements.id"),
                  nullable=True),
        sa.Column("said", sa.Text, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("change_kind", sa.String(32), nullable=True),
        sa.Column("what_changed", sa.Text, nullable=False),
        sa.Column("told_on", sa.Date, nullable=True),
        sa.Column("salt", sa.String(32), nullable=False),
        sa.Column("commitment", sa.String(64), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("recorded_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_impacts_activity_id", "impacts", ["activity_id"])


def downgrade() -> None:
    op.drop_index("ix_impacts_activity_id", table_name="impacts")
    op.drop_table("impacts")
