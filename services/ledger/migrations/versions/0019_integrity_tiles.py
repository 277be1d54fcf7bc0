"""How far the dashboard's integrity check has checked the stored tiles of level 0
(services/ledger/integrity.py): the next check starts there. Existing checks have none,
so the next check reads every stored tile once.

Frozen: plain alembic operations and SQL only, no runtime helpers.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("integrity_checks", sa.Column("tiles_to", sa.BigInteger, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("integrity_checks") as batch:
        batch.drop_column("tiles_to")
