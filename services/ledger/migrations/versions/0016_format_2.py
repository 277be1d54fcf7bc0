"""Log format 2: entries appended from here on carry a salt, and their leaf is a
commitment to the entry (docs/ledger-format.md); an entry's content can be erased.

Nothing already in the log changes: a format-1 entry keeps its leaf, its hash and every
tree head signed over it. ``entries.event`` becomes nullable, for erased entries. On
SQLite that rewrites the entries table once (Alembic's batch mode); on PostgreSQL it
changes only the catalogue.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("entries") as batch:
        batch.add_column(sa.Column("salt", sa.LargeBinary(32), nullable=True))
        batch.alter_column("event", existing_type=sa.Text, nullable=True)
    op.create_table(
        "erasures",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("ground", sa.String(64), nullable=False),
        sa.Column("reference", sa.String(200), nullable=True),
        sa.Column("erased_at", sa.DateTime, nullable=False),
        sa.Column("erased_by", sa.String(200), nullable=False),
        sa.Column("commitment", sa.LargeBinary(32), nullable=True),
    )


def downgrade() -> None:
    # Format-1 code would misread a salted entry, and an erased one has no content:
    # going back is refused once either exists, rather than losing what proves them.
    bind = op.get_bind()
    if bind.scalar(sa.text("SELECT count(*) FROM entries WHERE salt IS NOT NULL "
                           "OR event IS NULL")):
        raise RuntimeError("the log holds format-2 or erased entries, which format-1 code "
                           "cannot read: restore a backup taken before the upgrade instead")
    op.drop_table("erasures")
    with op.batch_alter_table("entries") as batch:
        batch.alter_column("event", existing_type=sa.Text, nullable=False)
        batch.drop_column("salt")
