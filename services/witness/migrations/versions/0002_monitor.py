"""The witness as a regional monitor: each ledger's published releases it fetched and
checked, their figures, those it refused, and where it stands with each ledger.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitored_logs",
        sa.Column("origin", sa.String(512), primary_key=True),
        sa.Column("attempted_at", sa.DateTime, nullable=False),
        sa.Column("checked_at", sa.DateTime, nullable=True),
        sa.Column("failing", sa.Boolean, nullable=False),
        sa.Column("problem", sa.Text, nullable=True),
    )
    op.create_table(
        "monitored_releases",
        sa.Column("origin", sa.String(512), primary_key=True),
        sa.Column("release_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("period_kind", sa.String(16), nullable=False),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("replaces", sa.BigInteger, nullable=True),
        sa.Column("tree_size", sa.BigInteger, nullable=False),
        sa.Column("tree_timestamp", sa.BigInteger, nullable=False),
        sa.Column("root_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("tree_head_signature", sa.LargeBinary(64), nullable=False),
        sa.Column("checkpoint_size", sa.BigInteger, nullable=False),
        sa.Column("disclosure", sa.Text, nullable=False),
        sa.Column("columns", sa.Text, nullable=False),
        sa.Column("figures", sa.Text, nullable=False),
        sa.Column("figures_sha256", sa.String(64), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("fetched_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "monitored_figures",
        sa.Column("origin", sa.String(512), primary_key=True),
        sa.Column("release_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("area", sa.String(64), primary_key=True),
        sa.Column("org_unit", sa.String(256), primary_key=True),
        sa.Column("period", sa.String(16), primary_key=True),
        sa.Column("period_kind", sa.String(16), nullable=False),
        sa.Column("figures", sa.Text, nullable=False),
        sa.Column("suppressed", sa.Text, nullable=False),
        sa.ForeignKeyConstraint(["origin", "release_id"],
                                ["monitored_releases.origin", "monitored_releases.release_id"],
                                ondelete="CASCADE"),
    )
    op.create_index("ix_monitored_figures_period", "monitored_figures", ["period", "origin"])
    op.create_table(
        "refused_releases",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("origin", sa.String(512), nullable=False),
        sa.Column("release_id", sa.BigInteger, nullable=False),
        sa.Column("period", sa.String(16), nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("first_refused_at", sa.DateTime, nullable=False),
        sa.Column("last_refused_at", sa.DateTime, nullable=False),
        sa.Column("times", sa.Integer, nullable=False),
        sa.UniqueConstraint("origin", "release_id", name="uq_refused_releases_origin_release"),
    )


def downgrade() -> None:
    op.drop_table("refused_releases")
    op.drop_index("ix_monitored_figures_period", table_name="monitored_figures")
    op.drop_table("monitored_figures")
    op.drop_table("monitored_releases")
    op.drop_table("monitored_logs")
