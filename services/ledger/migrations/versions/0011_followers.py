"""The followers of the log: the measures and the webhook fan-out move after the append,
each from its own stored position.

Until this version both ran inside the append's transaction, so every entry the log
holds has had its effect: each follower starts at the head's size.

Frozen: plain alembic operations and SQL only, no runtime helpers.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

FOLLOWERS = ("measures", "webhooks")


def upgrade() -> None:
    op.create_table(
        "follower_positions",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    for name in FOLLOWERS:
        op.execute(sa.text("INSERT INTO follower_positions (name, position, updated_at) "
                           "SELECT :name, size, CURRENT_TIMESTAMP FROM ledger_head WHERE id = 1")
                   .bindparams(name=name))


def downgrade() -> None:
    op.drop_table("follower_positions")
