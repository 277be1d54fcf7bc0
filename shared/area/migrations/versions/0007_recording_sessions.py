"""The recording pages' sessions: a write token exchanged for a session, for a member
of staff who records in a form (shared/area/recording.py). The cookie holds a random
id; only its hash is kept, beside the token's.

Frozen: plain alembic operations only, no runtime helpers.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recording_sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
        sa.Column("ended_at", sa.DateTime, nullable=True),
    )
    op.create_index("ix_recording_sessions_token_hash", "recording_sessions", ["token_hash"])
    op.create_index("ix_recording_sessions_expires_at", "recording_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_table("recording_sessions")
