"""The entries a follower of the log went past without their effect, because applying
each alone failed again and again: the follower, the entry's seq, why, and when.

Frozen: plain alembic operations and SQL only, no runtime helpers.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "follower_skips",
        sa.Column("follower", sa.String(32), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("skipped_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("follower_skips")
