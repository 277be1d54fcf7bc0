"""Targets: the figure an organisation aims for, per area, unit and measure, which the
dashboard shows each figure against (services/ledger/targets.py).

Frozen: plain alembic operations only, no runtime helpers.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "targets",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("area", sa.String(64), nullable=False),
        sa.Column("org_unit", sa.String(256), nullable=False),
        sa.Column("measure", sa.String(64), nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("set_at", sa.DateTime, nullable=False),
        sa.Column("set_by", sa.String(200), nullable=False),
        sa.UniqueConstraint("area", "org_unit", "measure", name="uq_targets_area_unit_measure"),
    )


def downgrade() -> None:
    op.drop_table("targets")
