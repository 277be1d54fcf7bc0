"""Measures kept on append, tokens, the access log, and entry filters.

Frozen: plain alembic operations only, no runtime helpers.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def period_key() -> list[sa.Column[str]]:
    return [
        sa.Column("area", sa.String(64), primary_key=True),
        sa.Column("org_unit", sa.String(256), primary_key=True),
        sa.Column("kind", sa.String(8), primary_key=True),
        sa.Column("period", sa.String(8), primary_key=True),
    ]


# The measures' counters as of this revision, frozen: later ones add their own columns.
COUNTERS = ["activities", "activities_involved", "involvements"] + [
    f"step_{n}" for n in range(1, 8)] + ["recognised", "votes", "feedback", "citizens",
                                          "returning_citizens"]


def upgrade() -> None:
    with op.batch_alter_table("entries") as batch:
        batch.add_column(sa.Column("pseudonym", sa.String(64), nullable=True))
    op.create_index("ix_entries_org_unit_seq", "entries", ["org_unit", "seq"])
    op.create_index("ix_entries_pseudonym_seq", "entries", ["pseudonym", "seq"])
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("scopes", sa.String(1000), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("revoked_at", sa.DateTime, nullable=True),
    )
    op.create_table(
        "access_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("token_name", sa.String(200), nullable=True),
        sa.Column("scopes", sa.String(1000), nullable=True),
        sa.Column("method", sa.String(10), nullable=False),
        sa.Column("path", sa.String(2000), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("remote_addr", sa.String(64), nullable=True),
        sa.Column("user_agent", sa.String(300), nullable=True),
    )
    op.create_index("ix_access_log_at", "access_log", ["at"])
    op.create_table(
        "aggregates",
        *period_key(),
        *[sa.Column(name, sa.Integer, nullable=False, server_default="0") for name in COUNTERS],
        sa.Column("hours", sa.Float, nullable=False, server_default="0"),
    )
    op.create_table(
        "citizen_periods",
        *period_key(),
        sa.Column("pseudonym", sa.String(64), primary_key=True),
        sa.Column("n", sa.Integer, nullable=False),
    )
    op.create_table(
        "activity_states",
        sa.Column("area", sa.String(64), primary_key=True),
        sa.Column("activity_id", sa.String(64), primary_key=True),
        sa.Column("org_unit", sa.String(256), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("involved", sa.Integer, nullable=False),
    )
    op.create_table(
        "involvement_states",
        sa.Column("area", sa.String(64), primary_key=True),
        sa.Column("involvement_id", sa.String(64), primary_key=True),
        sa.Column("activity_id", sa.String(64), nullable=False),
        sa.Column("org_unit", sa.String(256), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("pseudonym", sa.String(64), nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("hours", sa.Float, nullable=False),
        sa.Column("recognised", sa.Boolean, nullable=False),
        sa.Column("vote", sa.Boolean, nullable=False),
        sa.Column("feedback", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
    )
    op.create_index("ix_involvement_states_activity_id", "involvement_states", ["activity_id"])


def downgrade() -> None:
    for table in ("involvement_states", "activity_states", "citizen_periods", "aggregates",
                  "access_log", "api_tokens"):
        op.drop_table(table)
    op.drop_index("ix_entries_pseudonym_seq", "entries")
    op.drop_index("ix_entries_org_unit_seq", "entries")
    with op.batch_alter_table("entries") as batch:
        batch.drop_column("pseudonym")
