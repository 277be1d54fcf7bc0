"""Reader tiers: inspect tokens and grants state a purpose, the access log keeps it, and
subscriptions have a grant.

No data changes, but two meanings do (docs/operations.md, "Upgrading"):

- today's ``ledger:read`` tokens keep their scope string, which now reads aggregates
  only: entries, exports of entries, get-entries and get-proof-by-hash need
  ``ledger:inspect`` (with a purpose) or ``ledger:admin``;
- today's subscriptions get ``grant = 'read'``: a notice per batch without entries.
  An admin gives one its entries back with
  ``PATCH /v1/subscriptions/{id} {"grant": "inspect", "purpose": "..."}``.

Frozen: plain alembic operations only, no runtime helpers.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as table:
        table.add_column(sa.Column("purpose", sa.String(500), nullable=True))
    with op.batch_alter_table("access_log") as table:
        table.add_column(sa.Column("purpose", sa.String(500), nullable=True))
    with op.batch_alter_table("subscriptions") as table:
        # The default fills the rows there are: every existing subscription becomes read.
        table.add_column(sa.Column("grant", sa.String(16), nullable=False,
                                   server_default="read"))
        table.add_column(sa.Column("purpose", sa.String(500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subscriptions") as table:
        table.drop_column("purpose")
        table.drop_column("grant")
    with op.batch_alter_table("access_log") as table:
        table.drop_column("purpose")
    with op.batch_alter_table("api_tokens") as table:
        table.drop_column("purpose")
