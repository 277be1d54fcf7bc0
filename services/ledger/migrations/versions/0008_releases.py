"""Published releases: a period's disclosure-controlled figures as open data, append-only.

Frozen: plain alembic operations only, no runtime helpers.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "releases",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("period", sa.String(8), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("replaces", sa.Integer, sa.ForeignKey("releases.id"), nullable=True,
                  unique=True),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("tree_size", sa.BigInteger, nullable=False),
        sa.Column("tree_timestamp", sa.BigInteger, nullable=False),
        sa.Column("root_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("signature", sa.LargeBinary(64), nullable=False),
        sa.Column("disclosure", sa.Text, nullable=False),
        sa.Column("figures", sa.Text, nullable=False),
        sa.Column("figures_sha256", sa.String(64), nullable=False),
    )
    op.create_index("uq_releases_first", "releases", ["kind", "period"], unique=True,
                    sqlite_where=sa.text("replaces IS NULL"),
                    postgresql_where=sa.text("replaces IS NULL"))


def downgrade() -> None:
    op.drop_index("uq_releases_first", table_name="releases")
    op.drop_table("releases")
