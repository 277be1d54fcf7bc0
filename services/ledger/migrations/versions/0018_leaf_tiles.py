"""Level 0's full tiles as rows of their own, written by the tiles follower of the log
(services/ledger/followers.py). It starts at the beginning of the log, so an existing
ledger's tiles are written as it catches up; until then they are read from the entries.

Frozen: plain alembic operations and SQL only, no runtime helpers.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leaf_tiles",
        sa.Column("index", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hashes", sa.LargeBinary(8192), nullable=False),
    )
    op.execute(sa.text("INSERT INTO follower_positions (name, position, updated_at) "
                       "VALUES ('tiles', 0, CURRENT_TIMESTAMP)"))


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM follower_positions WHERE name = 'tiles'"))
    op.execute(sa.text("DELETE FROM follower_skips WHERE follower = 'tiles'"))
    op.drop_table("leaf_tiles")
