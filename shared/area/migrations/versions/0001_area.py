"""Activities, involvements, citizens, tokens, integrations, receipts, outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

from shared.area.models import create_area_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_area_tables()


def downgrade() -> None:
    raise NotImplementedError("the first migration is not reversible")
